# The flake library (ship's `lib` output): `mkFlake` gives any workspace configured by its
# [workspace.metadata.ship] the outputs ship's own flake has. flake.nix binds it to ship's pinned
# inputs and ship's own source; nix/tests binds it to stand-ins of them, so CI evaluates this
# very wiring with Nix 2.8 and no network.
{
  nixpkgs,
  crane,
  rust-overlay,
  naersk,
  # ship's own repository (its flake's self, or a path): packages.ship is built from it.
  shipSource,
}:
let
  shipLib = import ./lib;
  # A flake's self is a set whose outPath is its store path; lib.fileset and cleanSourceWith
  # take paths only (a string with store context is refused by builtins.path).
  asPath =
    source:
    if builtins.isPath source then source else /. + builtins.unsafeDiscardStringContext (toString source);
in
{
  mkFlake =
    {
      # The adopting flake's self. Its rev reaches the binaries through SHIP_GIT_REV (the
      # workspace's build.rs may read it); a dirty tree has none.
      self,
      # The workspace: where the Cargo.toml with [workspace.metadata.ship] is.
      root ? self,
      # pkgs -> checks the flake adds for its own repository (ship's: its Nix test suites).
      extraChecks ? _: { },
    }:
    let
      config = shipLib.config { path = asPath root + "/Cargo.toml"; };
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
            extraChecks
            ;
          root = asPath root;
          shipRoot = asPath shipSource;
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
    };
}
