# Another workspace's flake evaluated against the stand-ins, as `nix flake show` would list it
# (shape.nix, the same shape as show.nix):
#   nix-instantiate --eval --strict --json nix/tests/adopt.nix --arg workspace /abs/path/to/ws
# Its flake.nix gets `self` = the workspace (no rev: a dirty tree) and `ship` = this repository's
# flake library bound to the stand-ins of ship's inputs, with this repository as ship's source.
{
  # The workspace's directory (a path, or a string holding an absolute one).
  workspace,
}:
let
  inputs = import ./stand-ins {
    envVars = [ "SHIP_GIT_REV" ];
    rev = null;
  };
  ship = {
    lib = import ../flake-lib.nix {
      inherit (inputs)
        nixpkgs
        crane
        rust-overlay
        naersk
        ;
      shipSource = ../..;
    };
  };
  flake = (import "${toString workspace}/flake.nix").outputs {
    self = {
      outPath = toString workspace;
    };
    inherit ship;
  };
in
import ./shape.nix flake
