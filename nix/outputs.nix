# The flake's outputs as a function of its inputs. flake.nix passes the real inputs; nix/tests
# passes stand-ins of them, so CI evaluates this very wiring with Nix 2.8 and no network.
{
  self,
  nixpkgs,
  crane,
  rust-overlay,
  naersk,
}:
{
  # The workspace: the directory nix/ is in.
  root ? ../.,
  # pkgs -> checks the flake adds for its own repository (this one's: its Nix test suites).
  extraChecks ? _: { },
}:
let
  shipLib = import ./lib;
  config = shipLib.config { path = root + "/Cargo.toml"; };
  perSystem =
    system:
    import ./per-system.nix {
      inherit
        system
        nixpkgs
        crane
        rust-overlay
        naersk
        config
        root
        extraChecks
        ;
      # Reaches /version through SHIP_GIT_REV (build.rs). A dirty tree has no rev.
      rev = self.rev or "dirty";
    };
  bySystem = shipLib.util.genAttrs shipLib.attrs.systems perSystem;
  collect = output: builtins.mapAttrs (_: outputs: outputs.${output}) bySystem;
in
{
  packages = collect "packages";
  apps = collect "apps";
  checks = collect "checks";
  devShells = collect "devShells";
  formatter = collect "formatter";
}
