# Every Nix test suite; evaluation fails listing the failed cases of the first failing suite.
# Run: nix-instantiate --eval --strict --json nix/tests (what checks.nix-tests and
# crates/ship/tests/nix_eval.rs do).
{
  config = import ./config.nix;
  stand-ins = import ./stand-ins.nix;
  wiring = import ./wiring.nix;
  workspaces = import ./workspaces.nix;
}
