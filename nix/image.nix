# The service's image: no base image, only the binary's runtime closure (the Entrypoint's store
# path pulls it in) plus /etc/passwd and /etc/group naming the non-root user. Called with the
# package set of the image's platform, so a cross image gets that platform's dockerTools.
{
  dockerTools,
  writeTextDir,
  # The service build (crate.nix `app`) for this platform.
  app,
  binary,
  # nix/lib/image.nix: name, tag, architecture, labels...
  spec,
}:
dockerTools.streamLayeredImage {
  inherit (spec)
    name
    tag
    architecture
    created
    ;
  contents = [
    (writeTextDir "etc/passwd" spec.passwd)
    (writeTextDir "etc/group" spec.group)
  ];
  config = spec.imageConfig // {
    Entrypoint = [ "${app}/bin/${binary}" ];
  };
}
