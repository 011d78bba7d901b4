# `nix develop`: the toolchain (crane adds cargo, rustc, clippy, rustfmt) and every tool
# `cargo test --workspace --locked` runs, so `nix develop -c cargo test --workspace --locked`
# works without the Debian packages of .ci/run.
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
  shellcheck,
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
    shellcheck
    # The tests call the tools by their Debian names.
    (writeShellScriptBin "docker-registry" ''exec ${distribution}/bin/registry "$@"'')
    (writeShellScriptBin "qemu-aarch64-static" ''exec ${qemu-user}/bin/qemu-aarch64 "$@"'')
  ];
}
