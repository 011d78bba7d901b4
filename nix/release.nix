# `nix run .#release`: `ship release` with the tools it runs on PATH, for a runner that has
# nothing but Nix. ship runs nix (build, path-info, copy), cachix (push) and the image scripts
# the flake builds (their interpreters are in their own closures); registry credential helpers
# (docker-credential-*) are the user's own.
{
  writeShellApplication,
  cachix,
  nix,
  ship,
}:
writeShellApplication {
  name = "ship-release";
  runtimeInputs = [
    ship
    cachix
  ];
  # The runner's own nix (matched to its daemon and settings) comes first; this one is the
  # fallback.
  text = ''
    export PATH="$PATH:${nix}/bin"
    exec ship release "$@"
  '';
}
