# The flake's inputs as stand-ins, shaped like the real ones: `nixpkgs` is imported as a
# path, `crane.mkLib`, `rust-overlay.overlays.default`. `self` is the repository checkout.
{
  # Environment variables the wiring may put on crane derivations (see crane.nix).
  envVars,
  # `self.rev`; null for a dirty tree, which has none.
  rev,
}:
{
  self = {
    outPath = toString ../../..;
  }
  // (if rev == null then { } else { inherit rev; });
  nixpkgs = {
    outPath = toString ./nixpkgs;
  };
  crane = import ./crane.nix { inherit envVars; };
  rust-overlay = import ./rust-overlay.nix;
  # Like a flake input: its outPath is what `callPackage naersk { }` imports.
  naersk = {
    outPath = toString ./naersk.nix;
  };
}
