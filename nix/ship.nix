# The `ship` binary from ship's own repository, the crane way: its own dependency derivation
# (`cargoArtifacts`) and the package on it, both from `commonArgs`. Never from the workspace
# that uses the flake library: a workspace without crates/ship gets it all the same, and a change
# to that workspace's files leaves this derivation alone.
{
  lib,
  # crane with ship's own toolchain (ship's rust-toolchain.toml).
  craneLib,
  # ship's repository (a path): its Cargo.toml and Cargo.lock, crates/ship and
  # crates/ship-test-support (a path dev-dependency of ship, a workspace member).
  shipRoot,
}:
let
  # Only what cargo reads to build `-p ship`: the workspace's manifest and lock, and its two
  # members' manifests and sources. The workspace's root package (demo-service) declares its
  # binary's path, so cargo loads the workspace without src/, build.rs or tests/: the demo's
  # code and configuration stay out, and so does crates/ship/tests.
  src = lib.fileset.toSource {
    root = shipRoot;
    fileset = lib.fileset.unions [
      (shipRoot + "/Cargo.toml")
      (shipRoot + "/Cargo.lock")
      (shipRoot + "/crates/ship/Cargo.toml")
      (shipRoot + "/crates/ship/src")
      (shipRoot + "/crates/ship-test-support/Cargo.toml")
      (shipRoot + "/crates/ship-test-support/src")
    ];
  };
  manifest = builtins.fromTOML (builtins.readFile (shipRoot + "/crates/ship/Cargo.toml"));

  commonArgs = {
    inherit src;
    strictDeps = true;
    # The root manifest names the workspace's root package: name the crate built.
    pname = "ship";
    inherit (manifest.package) version;
    # ship alone: its features resolved for itself, not unified with the demo's.
    cargoExtraArgs = "--locked --package ship";
  };

  # `cargo build` alone, as the workspace's deps (nix/crate.nix): no check pass, no test build.
  cargoArtifacts = craneLib.buildDepsOnly (
    commonArgs
    // {
      buildPhaseCargoCommand = "cargoWithProfile build ${commonArgs.cargoExtraArgs}";
      doCheck = false;
    }
  );
in
craneLib.buildPackage (
  commonArgs
  // {
    inherit cargoArtifacts;
    cargoBuildExtraArgs = "--bin ship";
    # ship's tests run in ship's own CI (cargo test), not in every adopter's build.
    doCheck = false;
    meta.mainProgram = "ship";
  }
)
