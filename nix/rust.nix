# crane (and naersk's toolchain) for a workspace's Rust, decided by nix/lib/toolchain.nix: its
# toolchain file, else its `toolchain` channel (rust-overlay), else crane's default, nixpkgs'
# rustc.
{
  crane,
  toolchain,
}:
rec {
  # The toolchain is a function of the package set so crane can splice it: under
  # cross-compilation cargo and rustc run on the build machine and rust-overlay adds the
  # target's standard library (its targetPlatform) by itself. null: nixpkgs' own.
  rustToolchainFor =
    p':
    if toolchain.kind == "file" then
      p'.rust-bin.fromRustupToolchainFile toolchain.file
    else if toolchain.kind == "channel" then
      p'.rust-bin.fromRustupToolchain {
        inherit (toolchain) channel;
        profile = "minimal";
        # What checks.clippy and checks.fmt run.
        components = [
          "clippy"
          "rustfmt"
        ];
      }
    else
      null;
  craneLibFor =
    p: if toolchain.kind == "nixpkgs" then crane.mkLib p else (crane.mkLib p).overrideToolchain rustToolchainFor;
}
