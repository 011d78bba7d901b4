# The Nix logic that needs no nixpkgs, in one place: nix/*.nix (the builds) and nix/tests
# both import it. Each file exports one function or set of names.
{
  config = import ./config.nix;
  attrs = import ./attrs.nix;
  image = import ./image.nix;
  util = import ./util.nix;
  packages = import ./packages.nix;
  testArgs = import ./test-args.nix;
  toolchain = import ./toolchain.nix;
  targets = import ./targets.nix;
}
