# The flake library (ship's `lib` output): `mkFlake` gives any workspace configured by its
# [workspace.metadata.ship] the outputs ship's own flake has. flake.nix binds it to ship's pinned
# inputs and ship's own source; nix/tests binds it to stand-ins of them, so CI evaluates this
# very wiring with Nix 2.8 and no network.
{
  nixpkgs,
  crane,
  rust-overlay,
  naersk,
  # ship's own repository, a path (its flake's `./.`): packages.ship is built from it.
  shipSource,
}:
let
  shipLib = import ./lib;
  # lib.fileset and cleanSourceWith take paths only; a flake's `./.` is one, with no store
  # path's string context to discard as turning its self.outPath into a path would.
  mustBePath =
    name: value:
    if builtins.isPath value then
      value
    else
      throw "ship.lib.mkFlake: `${name}` must be a path, such as `${name} = ./.;` in flake.nix (got a ${builtins.typeOf value})";
in
{
  mkFlake =
    {
      # The adopting flake's self. Its rev reaches the binaries through SHIP_GIT_REV (the
      # workspace's build.rs may read it); a dirty tree has none.
      self,
      # The workspace, a path: where the Cargo.toml with [workspace.metadata.ship] is (`./.`
      # in the flake beside it).
      root ? null,
      # pkgs -> checks the flake adds for its own repository (ship's: its Nix test suites).
      extraChecks ? _: { },
    }:
    let
      rootPath = mustBePath "root" root;
      config = shipLib.config { path = rootPath + "/Cargo.toml"; };
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
          root = rootPath;
          shipRoot = mustBePath "shipSource" shipSource;
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
