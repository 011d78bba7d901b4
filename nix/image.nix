# The service's image: no base image, only the binary's runtime closure (the Entrypoint's store
# path pulls it in) plus /etc/passwd and /etc/group naming the non-root user, a writable /tmp,
# and what the `runtime` key adds: workspace files, nixpkgs packages, other binaries, env.
# Called with the package set of the image's platform, so a cross image gets that platform's
# dockerTools and packages.
{
  dockerTools,
  writeTextDir,
  lib,
  pkgsHostTarget,
  # The service build (crate.nix `app`) for this platform.
  app,
  binary,
  # The workspace root, where `runtime.files` are taken from.
  root,
  # The profile's `runtime` settings and nix/lib/packages.nix bound to the configuration.
  runtime,
  lookup,
  # nix/lib/image.nix: name, tag, architecture, labels...
  spec,
}:
let
  quote = s: "'${builtins.replaceStrings [ "'" ] [ "'\\''" ] s}'";
  packages = map (lookup pkgsHostTarget runtime.keys.packages) runtime.packages;
  # Each workspace path on its own in the store, so a change to one rebuilds only the image.
  copyFile =
    from:
    let
      path = root + "/${from}";
      to = runtime.files.${from};
      src =
        if builtins.pathExists path then
          lib.fileset.toSource {
            inherit root;
            fileset = path;
          }
        else
          throw "${spec.manifestPath}: [workspace.metadata.ship] ${runtime.keys.files}.${from}: `${from}` does not exist in the workspace (${toString root})";
    in
    ''
      mkdir -p ${quote ".${dirOf to}"}
      cp -rT --no-preserve=mode ${quote "${src}/${from}"} ${quote ".${to}"}
    '';
  # The CA bundle's own store path: no symlink in the image has to resolve for TLS to work.
  cacert = if builtins.elem "cacert" runtime.packages then lookup pkgsHostTarget runtime.keys.packages "cacert" else null;
  env =
    (if cacert == null then { } else { SSL_CERT_FILE = "${cacert}/etc/ssl/certs/ca-bundle.crt"; })
    // spec.env;
in
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
  ]
  ++ packages
  # The other binaries on PATH (/bin), from the same build as the entrypoint.
  ++ (if runtime.binaries == [ ] then [ ] else [ app ]);
  extraCommands = ''
    mkdir -p -m 1777 tmp
  ''
  + builtins.concatStringsSep "" (map copyFile (builtins.attrNames runtime.files));
  config = spec.imageConfig // {
    Entrypoint = [ "${app}/bin/${binary}" ];
    Env = map (n: "${n}=${env.${n}}") (builtins.attrNames env);
  };
}
