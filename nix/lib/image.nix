# What an image says about itself, decided without nixpkgs: its repository and tag, OCI
# architecture, labels, user and config. nix/image.nix hands this to
# dockerTools.streamLayeredImage. builtins only.
{
  config,
  profile,
  platform,
  # The commit the flake was built from (`self.rev`), or "dirty".
  rev,
  # The profile's `runtime` settings (nix/lib/settings.nix): env, ports, working dir, labels.
  runtime ? config.byProfile.${profile}.runtime,
}:
let
  attrs = import ./attrs.nix;
  arch = attrs.arch.${platform};
  # A fixed uid/gid outside the range distributions hand to people, so files the service
  # creates on a mounted volume never alias a host account.
  uid = 65532;
  # A label with no value (no repository URL, a virtual workspace without a version) is left
  # out rather than written as null.
  allLabels = {
    "org.opencontainers.image.source" = config.source;
    "org.opencontainers.image.revision" = rev;
    "org.opencontainers.image.version" = config.package.version;
    "org.opencontainers.image.title" = config.binary;
  };
  # The configured labels win over these, as a later LABEL line in a Dockerfile would.
  labels =
    builtins.removeAttrs allLabels (builtins.filter (n: allLabels.${n} == null) (builtins.attrNames allLabels))
    // runtime.labels;
in
{
  # docker-archive's RepoTags is name:tag; the registry push names the repository anyway.
  name = config.image;
  tag = "${profile}-${arch}";
  architecture = arch;
  # Epoch + 1 s, dockerTools' own default, stated here because "now" would make every build
  # a new image: reproducible images are what lets a re-push skip every unchanged layer.
  created = "1970-01-01T00:00:01Z";
  # Enough for getpwuid() in the service and tools that look the user up.
  passwd = ''
    root:x:0:0:root:/var/empty:/sbin/nologin
    app:x:${toString uid}:${toString uid}:${config.binary}:/var/empty:/sbin/nologin
  '';
  group = ''
    root:x:0:
    app:x:${toString uid}:
  '';
  inherit labels;
  inherit (config) manifestPath;
  # The configured environment; nix/image.nix adds what needs store paths (SSL_CERT_FILE).
  inherit (runtime) env;
  # The image config apart from Entrypoint and Env, which need store paths.
  imageConfig = {
    User = "${toString uid}:${toString uid}";
    ExposedPorts = builtins.listToAttrs (map (p: {
      name = p;
      value = { };
    }) runtime.ports);
    Labels = labels;
  }
  // (if runtime.workingDir == null then { } else { WorkingDir = runtime.workingDir; });
}
