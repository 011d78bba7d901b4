# Stand-in for oxalica/rust-overlay at the revision flake.lock pins (`rev` below; the tests
# check the two agree): `overlays.default` adds `rust-bin`, whose fromRustupToolchainFile reads
# rust-toolchain.toml as lib/rust-bin.nix does there, with fromRustupToolchain's exact formals,
# the versions it has manifests for (manifests/stable/), and its rule that a toolchain carries
# the standard library of its host and target platforms (so one built in a cross package set's
# pkgsBuildHost has aarch64's).
let
  drv = import ./drv.nix;
  inherit (builtins)
    concatStringsSep
    elem
    fromTOML
    head
    match
    readFile
    ;

  # `git ls-tree manifests/stable` at `rev`.
  stableVersions = [
    "1.80.0"
    "1.80.1"
    "1.81.0"
    "1.82.0"
    "1.83.0"
    "1.84.0"
    "1.84.1"
    "1.85.0"
    "1.85.1"
    "1.86.0"
    "1.87.0"
    "1.88.0"
    "1.89.0"
    "1.90.0"
    "1.91.0"
    "1.91.1"
    "1.92.0"
    "1.93.0"
    "1.93.1"
    "1.94.0"
    "1.94.1"
    "1.95.0"
  ];
  profiles = [
    "minimal"
    "default"
    "complete"
  ];
  components = [
    "cargo"
    "clippy"
    "llvm-tools"
    "llvm-tools-preview"
    "miri"
    "rust-analysis"
    "rust-analyzer"
    "rust-docs"
    "rust-src"
    "rust-std"
    "rustc"
    "rustc-codegen-cranelift-preview"
    "rustc-dev"
    "rustc-docs"
    "rustfmt"
  ];

  rustBin =
    final:
    let
      inherit (final.stdenv) hostPlatform targetPlatform;
    in
    rec {
      fromRustupToolchain =
        {
          path ? null,
          channel ? null,
          profile ? null,
          components ? [ ],
          targets ? [ ],
        }:
        let
          profile' = if profile == null then "default" else profile;
          badComponent = builtins.filter (c: !elem c componentNames) components;
        in
        if path != null then
          throw "`path` is not supported, please directly add it to your PATH instead"
        else if channel == null then
          throw "`channel` is required"
        else if !elem channel stableVersions then
          throw "stand-in rust-overlay ${rev}: no manifest for Rust `${channel}`; known: ${concatStringsSep ", " stableVersions} (update flake.lock's rust-overlay)"
        else if !elem profile' profiles then
          throw "Rust ${channel} doesn't have profile `${profile'}`. Available profiles are: ${concatStringsSep ", " profiles}"
        else if badComponent != [ ] then
          throw "Component `${head badComponent}` doesn't exist"
        else
          drv.mk {
            fn = "rust-overlay.toolchain";
            name = "rust-${profile'}-${channel}";
            info = {
              inherit channel components;
              profile = profile';
              # Runs on the host platform of the set it was made in.
              host = hostPlatform.system;
              targets = (import ../../lib/util.nix).unique (
                [
                  hostPlatform.rust.rustcTarget
                  targetPlatform.rust.rustcTarget
                ]
                ++ targets
              );
            };
          };

      fromRustupToolchainFile =
        path:
        let
          content = readFile path;
          legacy = match "([^\r\n]+)\r?\n?" content;
        in
        if legacy != null then
          fromRustupToolchain { channel = head legacy; }
        else
          fromRustupToolchain (fromTOML content).toolchain;
    };
  componentNames = components;
  rev = "dbba5f888c82ef3ce594c451c33ac2474eb80847";
in
{
  inherit rev stableVersions;
  overlays.default = final: prev: {
    rust-bin = rustBin final;
  };
}
