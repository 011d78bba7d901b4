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

  # ship's flake is a user of its own library (nix/flake-lib.nix), as an adopting workspace's
  # flake is (`ship.lib.mkFlake { inherit self; root = ./.; }`), plus the library and the
  # template. `self` gives the revision only; sources are paths (`./.`).
  outputs =
    {
      self,
      nixpkgs,
      crane,
      rust-overlay,
      naersk,
    }:
    let
      lib = import ./nix/flake-lib.nix {
        inherit
          nixpkgs
          crane
          rust-overlay
          naersk
          ;
        shipSource = ./.;
      };
    in
    lib.mkFlake {
      inherit self;
      root = ./.;
      # This repository's own Nix test suites: a check of ship's repository only.
      extraChecks = pkgs: { nix-tests = pkgs.callPackage ./nix/nix-tests.nix { root = ./.; }; };
    }
    // {
      inherit lib;
      templates.default = {
        path = ./nix/template;
        description = "A Rust workspace released as OCI images by ship";
        welcomeText = ''
          # A Rust workspace released as OCI images by ship

          Next:
          - set `image` in Cargo.toml's [workspace.metadata.ship] to your registry repository;
          - rename the package and binary `service` (Cargo.toml, and `binary` in the table);
          - `git add -A && nix build .#image-dev`, then `git add flake.lock` and commit it.

          Every key: https://github.com/ship-rs/ship#configuration
        '';
      };
    };
}
