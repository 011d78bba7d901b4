# What `ship.lib` is to an adopting workspace's flake in these tests: nix/flake-lib.nix bound to
# the stand-ins of ship's inputs, with this repository as ship's source.
let
  inputs = import ./stand-ins {
    envVars = [ "SHIP_GIT_REV" ];
    rev = null;
  };
in
import ../flake-lib.nix {
  inherit (inputs)
    nixpkgs
    crane
    rust-overlay
    naersk
    ;
  shipSource = ../..;
}
