# Which Rust builds the workspace: its own rust-toolchain.toml (or legacy rust-toolchain) when
# there is one, else the configuration's `toolchain` channel (rust-overlay), else nixpkgs' rustc,
# cargo, clippy and rustfmt (crane's default). Never another workspace's file. builtins only.
{
  config,
  # The workspace root (a path).
  root,
}:
let
  files = builtins.filter builtins.pathExists [
    (root + "/rust-toolchain.toml")
    (root + "/rust-toolchain")
  ];
in
if files != [ ] && config.toolchain != "nixpkgs" then
  throw "${config.manifestPath}: [workspace.metadata.ship] toolchain: `${config.toolchain}` given, but ${baseNameOf (builtins.head files)} names the toolchain too; keep one of the two"
else if files != [ ] then
  {
    kind = "file";
    file = builtins.head files;
  }
else if config.toolchain != "nixpkgs" then
  {
    kind = "channel";
    channel = config.toolchain;
  }
else
  { kind = "nixpkgs"; }
