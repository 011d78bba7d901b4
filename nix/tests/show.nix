# What `nix flake show` would list, per output and system, for the flake evaluated against the
# stand-ins, plus the arguments of every deps/app/image build and what the checks build on as
# plain data, for
# crates/ship/tests/nix_wiring.rs:
#   nix-instantiate --eval --strict --json nix/tests/show.nix
let
  shipLib = import ../lib;
  drv = import ./stand-ins/drv.nix;
  rev = "0123456789abcdef0123456789abcdef01234567";
  flake = (import ../../flake.nix).outputs (
    import ./stand-ins {
      envVars = [ "SHIP_GIT_REV" ];
      inherit rev;
    }
  );
  names = builtins.mapAttrs (_: builtins.attrNames);
  facts =
    p:
    if p.standin.fn == "dockerTools.streamLayeredImage" then
      {
        inherit (p.standin)
          fn
          architecture
          host
          config
          ;
      }
    else
      {
        path = p.outPath;
        inherit (p.standin)
          fn
          host
          build
          cargoBuildTarget
          cargoArtifacts
          installsCargoArtifacts
          ;
        # crane's stand-in records them; naersk's does not (null).
        cargoCommands = p.standin.cargoCommands or null;
        args = drv.sanitize p.standin.args;
      };
in
{
  inherit rev;
  packages = names flake.packages;
  apps = names flake.apps;
  checks = names flake.checks;
  devShells = names flake.devShells;
  formatter = builtins.mapAttrs (_: f: f.name) flake.formatter;
  # What the checks build on, run and install (the cargo ones; others give nulls).
  checkBuilds = builtins.mapAttrs (
    _:
    builtins.mapAttrs (
      _: c: {
        cargoArtifacts = c.standin.cargoArtifacts or null;
        cargoCommands = c.standin.cargoCommands or null;
        installsCargoArtifacts = c.standin.installsCargoArtifacts or false;
      }
    )
  ) flake.checks;
  builds = builtins.mapAttrs (
    _: packages: builtins.mapAttrs (_: facts) (builtins.removeAttrs packages [ "default" ])
  ) flake.packages;
}
