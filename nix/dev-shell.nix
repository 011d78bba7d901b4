# `nix develop`: the toolchain (crane adds cargo, rustc, clippy, rustfmt) and every tool
# `cargo test --workspace --locked` runs itself. Not the host tools the fixture flake's builders
# use (crates/ship/tests/fixtures/flake: /usr/bin's gcc and aarch64-linux-gnu-gcc, sandbox off,
# as Debian's nix-bin is set up): those tests still need that host.
{
  craneLib,
  writeShellScriptBin,
  checks,
  nix,
  distribution,
  skopeo,
  umoci,
  qemu-user,
  apacheHttpd,
  openssl,
  jq,
  zstd,
  xz,
  shellcheck,
  actionlint,
}:
craneLib.devShell {
  inherit checks;
  packages = [
    nix
    distribution
    skopeo
    umoci
    qemu-user
    apacheHttpd
    openssl
    jq
    zstd
    xz
    shellcheck
    actionlint
    # The tests call these tools by their Debian names.
    (writeShellScriptBin "docker-registry" ''exec ${distribution}/bin/registry "$@"'')
    (writeShellScriptBin "qemu-aarch64-static" ''exec ${qemu-user}/bin/qemu-aarch64 "$@"'')
  ];
}
