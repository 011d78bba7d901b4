# nix/tests (the pure logic and this wiring evaluated against stand-ins) inside a build, so
# `nix flake check` runs them too. The evaluation needs no store: `--store dummy://`.
{
  lib,
  runCommand,
  nix,
  root,
}:
runCommand "ship-nix-tests"
  {
    src = lib.fileset.toSource {
      inherit root;
      fileset = lib.fileset.unions [
        (root + "/nix")
        (root + "/flake.nix")
        (root + "/flake.lock")
        (root + "/Cargo.toml")
        (root + "/configuration")
        (root + "/rust-toolchain.toml")
        # ship's own source (nix/ship.nix), which packages.ship is evaluated from.
        (root + "/Cargo.lock")
        (root + "/crates/ship/Cargo.toml")
        (root + "/crates/ship/src")
        (root + "/crates/ship-test-support/Cargo.toml")
        (root + "/crates/ship-test-support/src")
        # The test targets [workspace.metadata.ship.tests] names (nix/lib/targets.nix).
        (root + "/tests/http.rs")
        (root + "/crates/ship/tests/plan_cli.rs")
        (root + "/crates/ship/tests/fixtures")
      ];
    };
    nativeBuildInputs = [ nix ];
  }
  ''
    export HOME="$TMPDIR" NIX_STATE_DIR="$TMPDIR/state" NIX_LOG_DIR="$TMPDIR/log"
    nix-instantiate --store dummy:// --option substituters "" --eval --strict --json \
      "$src/nix/tests" > "$out"
  ''
