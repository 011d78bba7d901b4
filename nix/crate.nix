# One cargo profile of the workspace for one target, the crane way: the dependencies in their
# own derivation (`deps`) and the service (`app`) built on top of it.
{
  craneLib,
  # The workspace crates' source (the cargo source and `include`), and the cargo source alone,
  # which is all the deps derivations see (nix/per-system.nix).
  src,
  cargoSrc,
  profile,
  # The commit the flake was built from, or "dirty".
  rev,
  # Cross-compiled (tests cannot run: that would need QEMU).
  cross,
  # The binary the image runs ([workspace.metadata.ship] binary).
  binary,
  # The profile's `build` settings (nix/lib/settings.nix) and nix/lib/packages.nix bound to the
  # configuration, for their nixpkgs attribute paths.
  build,
  lookup,
  # { pname, version } of the derivations (nix/per-system.nix).
  crateName,
  # Other binaries of the workspace the image carries (`runtime.binaries`).
  binaries,
  # The spliced package sets callPackage hands over: tools that run during the build come
  # from the build platform's set, libraries from the set of the platform the binary runs on.
  pkgsBuildHost,
  pkgsHostTarget,
}:
let
  # Shared by the deps derivation and everything built on it; a difference here would make
  # cargo rebuild the dependencies inside the package derivation.
  commonArgs = {
    inherit src;
    inherit (crateName) pname version;
    strictDeps = true;
    # "dev" is a debug build (crane passes `--profile dev`); each profile gets its own deps.
    CARGO_PROFILE = profile;
    # Every build selects the whole workspace: cargo unifies features across the selected
    # packages, and `-p demo-service` alone resolves some crates differently (bitflags,
    # rusqlite, measured), which would compile them again on top of the deps.
    cargoExtraArgs = "--locked --workspace";
    # The same values in deps and package: a `-sys` crate among the deps needs them too.
    nativeBuildInputs = map (lookup pkgsBuildHost build.keys.nativeBuildInputs) build.nativeBuildInputs;
    buildInputs = map (lookup pkgsHostTarget build.keys.buildInputs) build.buildInputs;
    inherit (build) env;
  };
  # The deps derivations' arguments: the cargo source, without `include`. crane's mkDummySrc
  # already drops all but Cargo.lock, .cargo/config* and the Cargo.tomls of what it is given
  # (lib/mkDummySrc.nix:41-46, 104-131); given the cargo source alone, not even an included
  # Cargo.toml or .cargo/config can reach the deps, whose hash is then the same with or without
  # `include`.
  depsArgs = commonArgs // {
    src = cargoSrc;
  };

  # What the binaries need and nothing more: `cargo build` alone. crane's buildDepsOnly runs
  # `cargo check` first (its artifacts serve clippy only) and, with doCheck, `cargo test
  # --no-run`; the checks get those from `checkDeps` instead, so an image never waits for them.
  cargoArtifacts = craneLib.buildDepsOnly (
    depsArgs
    // {
      buildPhaseCargoCommand = "cargoWithProfile build ${commonArgs.cargoExtraArgs}";
      doCheck = false;
    }
  );

  # The checks' dependency artifacts, built ON the binaries' deps so nothing is compiled twice:
  # `cargo check --all-targets` (the metadata clippy reuses) and `cargo test --no-run` (the
  # dev-dependencies and test harnesses). buildDepsOnly cannot chain (it sets cargoArtifacts =
  # null, lib/buildDepsOnly.nix), so this is mkCargoDerivation with buildDepsOnly's dummy
  # source, vendored sources and name. Native builds only: tests would need QEMU under cross.
  checkDeps = craneLib.mkCargoDerivation (
    builtins.removeAttrs commonArgs [ "cargoExtraArgs" ]
    // {
      inherit cargoArtifacts;
      src = craneLib.mkDummySrc depsArgs;
      cargoVendorDir = craneLib.vendorCargoDeps depsArgs;
      pnameSuffix = "-checks-deps";
      buildPhaseCargoCommand = ''
        cargoWithProfile check ${commonArgs.cargoExtraArgs} --all-targets
        cargoWithProfile test ${commonArgs.cargoExtraArgs} --no-run
      '';
    }
  );

in
{
  inherit commonArgs;
  deps = cargoArtifacts;
  checkDeps = if cross then null else checkDeps;
  app = craneLib.buildPackage (
    commonArgs
    // {
      inherit cargoArtifacts;
      # Only `cargo build` gets it (crane's cargoBuildExtraArgs): the feature resolution stays
      # that of the deps derivation.
      cargoBuildExtraArgs = builtins.concatStringsSep " " (map (b: "--bin ${b}") ([ binary ] ++ binaries));
      # The tests run once, in checks.tests.
      doCheck = false;
      meta.mainProgram = binary;
      # Here and never in commonArgs: in the deps derivation every commit would rebuild all
      # the dependencies. build.rs reads it at build time.
      SHIP_GIT_REV = rev;
    }
  );
}
