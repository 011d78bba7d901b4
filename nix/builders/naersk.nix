# One cargo profile of the workspace for one target, the naersk way (`builder = "naersk"`):
# the same result as nix/crate.nix (`deps`, `app`), so the images and the cache pushes do not
# care which builder made the binaries. naersk (the revision flake.lock pins)
# builds the dependencies in their own derivation from a dummy source and hands it to the
# package as `builtDependencies` (default.nix:46-74), exposed as `passthru.builtDependencies`
# (build.nix:371-374).
{
  # naersk's lib for this package set, callPackage'd with the project's toolchain
  # (naersk ignores rust-toolchain.toml; see nix/per-system.nix).
  naersk,
  stdenv,
  pkgsBuildBuild,
  # The workspace crates' source (the cargo source and `include`) and the cargo source alone,
  # the same crane builds from (nix/per-system.nix).
  src,
  cargoSrc,
  profile,
  # The commit the flake was built from, or "dirty".
  rev,
  # Cross-compiled: naersk has no cross support of its own, the environment below is it.
  cross,
  # The binary the image runs ([workspace.metadata.ship] binary).
  binary,
  # As in crate.nix: the profile's `build` settings (nix/lib/settings.nix), nix/lib/packages.nix
  # bound to the configuration, and the other binaries the image carries (`runtime.binaries`).
  build,
  lookup,
  binaries,
  # The spliced package sets callPackage hands over: tools that run during the build come
  # from the build platform's set, libraries from the set of the platform the binary runs on.
  pkgsBuildHost,
  pkgsHostTarget,
}:
let
  target = stdenv.hostPlatform.rust.rustcTarget;
  ccTarget = builtins.replaceStrings [ "-" ] [ "_" ] target;
  ccPrefix = stdenv.cc.targetPrefix;
  # What crane's mkCrossToolchainEnv exports, which naersk leaves to the caller: cargo's target
  # and linker, and the cc crate's compiler and archiver for C dependencies (rusqlite's bundled
  # SQLite). The cross package set's stdenv.cc is that compiler; build scripts and proc macros
  # run here and get the build machine's `cc`.
  crossEnv =
    if !cross then
      { }
    else
      {
        CARGO_BUILD_TARGET = target;
        "CARGO_TARGET_${stdenv.hostPlatform.rust.cargoEnvVarTarget}_LINKER" = "${ccPrefix}cc";
        "CC_${ccTarget}" = "${ccPrefix}cc";
        "AR_${ccTarget}" = "${ccPrefix}ar";
        HOST_CC = "cc";
        depsBuildBuild = [ pkgsBuildBuild.stdenv.cc ];
      };

  # Shared by the deps derivation and the packages: naersk gives the deps derivation every
  # argument but overrideMain (default.nix:54,76), so anything per binary goes there.
  commonArgs = {
    inherit src;
    # Where naersk reads Cargo.toml, Cargo.lock and .cargo/config from (config.nix:234-262,
    # 356-413) to make the deps derivation's dummy source (default.nix:46-53, lib.nix:146-235):
    # that derivation is built from `root` and never sees `src` (only with [patch] paths,
    # config.nix:376-397), so `include` stays out of it.
    root = cargoSrc;
    strictDeps = true;
    # naersk knows `--release` or nothing (a debug build); any other profile is `--profile X`.
    release = profile == "release";
    # As in crate.nix: the whole workspace everywhere, so cargo resolves features once.
    cargoBuildOptions =
      defaults:
      defaults
      ++ [
        "--locked"
        "--workspace"
      ]
      ++ (if profile == "dev" || profile == "release" then [ ] else [ "--profile" profile ]);
    # The tests and clippy stay on crane (checks.nix): a naersk deps derivation runs one cargo
    # command, so they could not share it.
    doCheck = false;
    # naersk appends these to its own (build.nix:131-140); a `-sys` crate among the deps needs
    # them as much as the package does.
    nativeBuildInputs = map (lookup pkgsBuildHost build.keys.nativeBuildInputs) build.nativeBuildInputs;
    buildInputs = map (lookup pkgsHostTarget build.keys.buildInputs) build.buildInputs;
    # Not a naersk option: it reaches stdenv.mkDerivation untouched (config.nix:229-232,
    # build.nix:603), whose `env` exports each entry, as with crane. As one attribute rather
    # than one per variable, a configured name can never be taken for a naersk option
    # (`release`, `name`, `mode`...).
    inherit (build) env;
  }
  // crossEnv;

  package =
    names: attrs:
    naersk.buildPackage (
      commonArgs
      // {
        overrideMain =
          old:
          {
            # `--bin` in cargoBuildOptions would reach the deps derivation, whose dummy source
            # has no binaries (lib.nix:161).
            cargo_build_options = old.cargo_build_options ++ builtins.concatMap (n: [
              "--bin"
              n
            ]) names;
            meta = (old.meta or { }) // {
              mainProgram = builtins.head names;
            };
          }
          // attrs;
      }
    );

  app = package ([ binary ] ++ binaries) {
    # Only here: in the deps derivation every commit would rebuild all the dependencies.
    SHIP_GIT_REV = rev;
  };
in
{
  inherit commonArgs app;
  # The one deps derivation app unpacks; pushed to the cache like crane's.
  deps = builtins.head app.passthru.builtDependencies;
}
