# `nix run .#release`: `ship release` with the tools it runs on PATH, for a runner that has
# nothing but Nix.
{
  writeShellApplication,
  cachix,
  git,
  nix,
  ship,
}:
writeShellApplication {
  name = "ship-release";
  runtimeInputs = [
    ship
    cachix
    git
  ];
  # The runner's own nix (matched to its daemon and settings) comes first; this one is the
  # fallback.
  text = ''
    export PATH="$PATH:${nix}/bin"
    exec ship release "$@"
  '';
}
