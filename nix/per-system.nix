# Everything one Nix system exposes. x86_64-linux also cross-compiles arm64 (crane's
# cross-rust-overlay example), so an amd64 runner can build the arm64 image without QEMU;
# aarch64-linux builds arm64 natively for arm64 runners and remote builders.
{
  system,
  nixpkgs,
  crane,
  rust-overlay,
  naersk,
  config,
  rev,
  root,
  # ship's own repository (a path), where packages.ship is built from (nix/ship.nix).
  shipRoot,
  extraChecks,
}:
let
  shipLib = import ./lib;
  inherit (shipLib) attrs util;

  overlays = [ rust-overlay.overlays.default ];
  pkgs = import nixpkgs {
    localSystem = system;
    inherit overlays;
  };
  pkgsArm64 = import nixpkgs {
    localSystem = system;
    crossSystem = "aarch64-linux";
    inherit overlays;
  };

  # The workspace's toolchain file, else its `toolchain` channel, else crane's default:
  # nixpkgs' rustc (nix/lib/toolchain.nix).
  toolchain = shipLib.toolchain { inherit config root; };
  inherit (import ./rust.nix { inherit crane toolchain; }) rustToolchainFor craneLibFor;
  craneLib = craneLibFor pkgs;
  # ship's Rust is the one ship's repository names, the same rules applied to it.
  shipRust = import ./rust.nix {
    inherit crane;
    toolchain = shipLib.toolchain {
      config = shipLib.config { path = shipRoot + "/Cargo.toml"; };
      root = shipRoot;
    };
  };
  # Workspace files the image carries (`runtime.files`) stay out of the cargo source, so a change
  # to one rebuilds only the image: cleanCargoSource keeps every *.toml, configuration included.
  runtimeFiles = map (f: "${toString root}/${f}") (
    util.unique (builtins.concatMap (p: builtins.attrNames config.byProfile.${p}.runtime.files) config.profiles)
  );
  under = paths: path: builtins.any (f: path == f || util.hasPrefix "${f}/" path) paths;
  # What the deps derivations build from.
  cargoSrc = pkgs.lib.cleanSourceWith {
    src = craneLib.cleanCargoSource root;
    filter = path: _type: !(under runtimeFiles path);
  };
  # What the workspace crates build from: the cargo source and the `include` paths (`.sqlx/`,
  # `migrations/`, assets). Only the packages and the checks get it, never a deps derivation, so
  # a change to an included file rebuilds the workspace crates and no dependency. A path in both
  # `include` and `runtime.files` is in both the build and the image. One filter over the same
  # origin, under cargoSrc's name: both unpack to the same directory, which crane's deps
  # fingerprints rely on (mkDummySrc.nix's sourceName).
  includePaths = map (p: "${toString root}/${p}") config.include;
  src =
    if config.include == [ ] then
      cargoSrc
    else
      pkgs.lib.cleanSourceWith {
        inherit (cargoSrc) name;
        src = cargoSrc.origSrc;
        filter =
          path: type:
          cargoSrc.filter path type
          || under includePaths path
          || (type == "directory" && builtins.any (f: util.hasPrefix "${path}/" f) includePaths);
      };

  # What either builder is given for one profile and target: the same source and settings.
  builderArgs = cross: profile: {
    inherit
      src
      cargoSrc
      profile
      rev
      cross
      ;
    inherit (config) binary;
    inherit (config.byProfile.${profile}) build;
    inherit (config.byProfile.${profile}.runtime) binaries;
    lookup = shipLib.packages config;
  };
  # callPackage, as in crane's cross example, so inputs added to crate.nix get spliced.
  buildsFor =
    p: crane': cross: profile:
    p.callPackage ./crate.nix (
      builderArgs cross profile
      // {
        craneLib = crane';
        inherit crateName;
      }
    );
  # The derivations' name and version. crane infers them from the root manifest only, which a
  # virtual workspace's lacks: it would warn on every evaluation and name everything
  # `cargo-package-0.0.1` (lib/crateNameFromCargoToml.nix). The binary names the service.
  crateName = {
    pname = if config.package.name != null then config.package.name else config.binary;
    version = if config.package.version != null then config.package.version else "0.0.0";
  };
  # builder = "naersk": the packages come from nix/builders/naersk.nix, crate.nix's result
  # shape, with the same toolchain, source and settings. naersk ignores rust-toolchain.toml and
  # interpolates `${rustc}/bin/rustc` and `${cargo}` (build.nix:131,144), where a spliced
  # package is the host platform's: cargo and rustc are always given, from the build
  # machine's set (under cross nixpkgs' pkgsBuildHost.rustc carries the target's std). The
  # cross set's zstd would be aarch64's too, and naersk runs `${zstd}/bin/zstd` here
  # (build.nix:235,352).
  naerskBuildsFor =
    p: cross: profile:
    let
      overlayToolchain = rustToolchainFor p.pkgsBuildHost;
    in
    p.callPackage ./builders/naersk.nix (
      builderArgs cross profile
      // {
        naersk = p.callPackage naersk {
          cargo = if overlayToolchain == null then p.pkgsBuildHost.cargo else overlayToolchain;
          rustc = if overlayToolchain == null then p.pkgsBuildHost.rustc else overlayToolchain;
          zstd = p.pkgsBuildBuild.zstd;
        };
      }
    );
  selectedBuildsFor =
    p: crane': cross: profile:
    if config.builder == "naersk" then naerskBuildsFor p cross profile else buildsFor p crane' cross profile;
  withImage =
    p: platform: builds: profile:
    builds
    // {
      image = p.callPackage ./image.nix {
        app = builds.app;
        inherit (config) binary;
        inherit (config.byProfile.${profile}) runtime;
        inherit root;
        lookup = shipLib.packages config;
        spec = shipLib.image {
          inherit
            config
            profile
            platform
            rev
            ;
        };
      };
    };

  nativePlatform = if system == "x86_64-linux" then "linux/amd64" else "linux/arm64";
  native = util.genAttrs config.profiles (
    profile: withImage pkgs nativePlatform (selectedBuildsFor pkgs craneLib false profile) profile
  );
  arm64 = util.genAttrs config.profiles (
    profile:
    withImage pkgsArm64 "linux/arm64" (selectedBuildsFor pkgsArm64 (craneLibFor pkgsArm64) true profile) profile
  );

  # Attribute names come from nix/lib/attrs.nix, the same naming `ship plan` uses.
  named =
    builds: platform: cross: profile:
    let
      a = attrs.forPlatform profile platform cross;
      b = builds.${profile};
    in
    {
      ${a.deps} = b.deps;
      ${a.app} = b.app;
      ${a.image} = b.image;
    };
  crossPackages =
    if system == attrs.crossBuildSystem then
      map (named arm64 "linux/arm64" true) config.profiles
    else
      [ ];
  profilePackages = builtins.foldl' (a: b: a // b) { } (
    map (named native nativePlatform false) config.profiles ++ crossPackages
  );

  # The default package is the release profile's build when a variant uses it.
  mainProfile = if builtins.elem "release" config.profiles then "release" else builtins.head config.profiles;
  # Tests and clippy use the dev profile's deps when a variant uses it (faster to build).
  checkProfile = if builtins.elem "dev" config.profiles then "dev" else builtins.head config.profiles;
  # The checks run on crane whichever builder makes the binaries: naersk's deps derivation runs
  # one cargo command and holds naersk's archive, which crane cannot build on. So with naersk
  # they get a crane build of their profile of their own (its commonArgs, deps and checkDeps; those
  # deps no image uses); with crane, the images' very build.
  checkBuilds =
    if config.builder == "naersk" then buildsFor pkgs craneLib false checkProfile else native.${checkProfile};

  packages = profilePackages // {
    default = native.${mainProfile}.app;
    # From ship's own source and toolchain, whatever the workspace and its builder.
    ship = pkgs.callPackage ./ship.nix {
      inherit shipRoot;
      craneLib = shipRust.craneLibFor pkgs;
    };
    # A package of its own so CI can build and push it like the image's deps.
    ${attrs.checksDeps} = checkBuilds.checkDeps;
  };

  release = pkgs.callPackage ./release.nix { inherit (packages) ship; };

  # Imported, not callPackage'd: callPackage would add `override` and `overrideDerivation` to
  # this set, and `nix flake check` wants every attribute of checks.<system> to be a derivation.
  checks = import ./checks.nix {
    inherit craneLib src;
    profile = checkProfile;
    # crane's arguments and deps (checkBuilds), the selected builder's image.
    builds = native.${checkProfile} // {
      inherit (checkBuilds) commonArgs deps checkDeps;
    };
    # Only targets the workspace has (nix/lib/targets.nix fails naming the entry otherwise).
    testArgs = builtins.seq (shipLib.targets { inherit config root; }) (shipLib.testArgs config.tests);
    testInputs = map (shipLib.packages config pkgs.pkgsBuildHost "tests.native-build-inputs") config.tests.nativeBuildInputs;
  }
  // extraChecks pkgs;
in
{
  inherit packages checks;
  apps = {
    ship = {
      type = "app";
      program = "${packages.ship}/bin/ship";
      meta.description = "ship: plan, push and report image releases";
    };
    release = {
      type = "app";
      program = "${release}/bin/ship-release";
      meta.description = "ship release with nix and cachix on PATH";
    };
  };
  devShells.default = pkgs.callPackage ./dev-shell.nix {
    inherit craneLib;
    checks = {
      inherit (checks) clippy tests;
    };
  };
  formatter = pkgs.nixfmt-tree;
}
