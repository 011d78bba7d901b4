# Everything one Nix system exposes. x86_64-linux also cross-compiles arm64 (crane's
# cross-rust-overlay example), so an amd64 runner can build the arm64 image without QEMU;
# aarch64-linux builds arm64 natively for arm64 runners and remote builders.
{
  system,
  nixpkgs,
  crane,
  rust-overlay,
  config,
  rev,
  root,
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

  # The toolchain is a function of the package set so crane can splice it: under
  # cross-compilation cargo and rustc run on the build machine and rust-overlay adds the
  # target's standard library (its targetPlatform) by itself.
  craneLibFor =
    p:
    (crane.mkLib p).overrideToolchain (
      p': p'.rust-bin.fromRustupToolchainFile (root + "/rust-toolchain.toml")
    );
  craneLib = craneLibFor pkgs;
  src = craneLib.cleanCargoSource root;
  shipVersion = (builtins.fromTOML (builtins.readFile (root + "/crates/ship/Cargo.toml"))).package.version;

  # callPackage, as in crane's cross example, so inputs added to crate.nix get spliced.
  buildsFor =
    p: crane': cross: profile:
    p.callPackage ./crate.nix {
      craneLib = crane';
      inherit
        src
        profile
        rev
        cross
        shipVersion
        ;
      inherit (config) binary;
    };
  withImage =
    p: platform: builds: profile:
    builds
    // {
      image = p.callPackage ./image.nix {
        app = builds.app;
        inherit (config) binary;
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
    profile: withImage pkgs nativePlatform (buildsFor pkgs craneLib false profile) profile
  );
  arm64 = util.genAttrs config.profiles (
    profile:
    withImage pkgsArm64 "linux/arm64" (buildsFor pkgsArm64 (craneLibFor pkgsArm64) true profile) profile
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

  # `ship` and the default package use the release profile's deps when a variant uses it.
  mainProfile = if builtins.elem "release" config.profiles then "release" else builtins.head config.profiles;
  # Tests and clippy use the dev profile's deps when a variant uses it (faster to build).
  checkProfile = if builtins.elem "dev" config.profiles then "dev" else builtins.head config.profiles;

  packages = profilePackages // {
    default = native.${mainProfile}.app;
    ship = native.${mainProfile}.ship;
    # A package of its own so CI can build and push it like the image's deps.
    ${attrs.checksDeps} = native.${checkProfile}.checkDeps;
  };

  release = pkgs.callPackage ./release.nix { inherit (packages) ship; };

  # Imported, not callPackage'd: callPackage would add `override` and `overrideDerivation` to
  # this set, and `nix flake check` wants every attribute of checks.<system> to be a derivation.
  checks = import ./checks.nix {
    inherit craneLib src root;
    inherit (pkgs) callPackage procps;
    profile = checkProfile;
    builds = native.${checkProfile};
  };
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
