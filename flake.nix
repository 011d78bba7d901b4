{
  description = "ship: a Rust workspace to amd64 and arm64 OCI images, dependencies built once";

  inputs = {
    # A release branch crane's pinned release is tested against (crane >= 0.22 needs >= 25.11).
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
    # A release tag, never a branch: crane's master may drop support for this nixpkgs.
    crane.url = "github:ipetkov/crane/v0.23.4";
    # Prebuilt Rust toolchains (the one rust-toolchain.toml names), native and for cross builds,
    # so no build ever compiles rustc.
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    # The alternative builder (`builder = "naersk"` in [workspace.metadata.ship]). naersk has
    # no releases: master, pinned by flake.lock.
    naersk = {
      url = "github:nix-community/naersk";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  # The wiring lives in nix/outputs.nix so the tests can evaluate exactly what the flake does
  # against stand-ins of these inputs (see nix/tests).
  # This repository's own Nix test suites are a check of this repository only: another
  # workspace's flake passes `{ }` here.
  outputs =
    inputs:
    import ./nix/outputs.nix inputs {
      extraChecks = pkgs: { nix-tests = pkgs.callPackage ./nix/nix-tests.nix { root = ./.; }; };
    };
}
