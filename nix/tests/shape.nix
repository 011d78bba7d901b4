# What `nix flake show` would list of a flake's outputs evaluated against the stand-ins, per
# output and system, plus the arguments of every deps/app/image build and what the checks build
# on, as plain data: show.nix gives it for this repository's flake, adopt.nix for another
# workspace's.
flake:
let
  drv = import ./stand-ins/drv.nix;
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
