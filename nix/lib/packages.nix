# A nixpkgs attribute path from the configuration (`openssl`, `llvmPackages.lld`) looked up in
# a package set. An unknown one fails evaluation naming the attribute and the key it was written
# under, in config.nix's error format. builtins only.
config: pkgs: key: attr:
let
  u = import ./util.nix;
  go =
    set: parts:
    if parts == [ ] then
      set
    else if builtins.isAttrs set && set ? ${builtins.head parts} then
      go set.${builtins.head parts} (builtins.tail parts)
    else
      throw "${config.manifestPath}: [workspace.metadata.ship] ${key}: `${attr}` is not an attribute of nixpkgs (the ${
        pkgs.stdenv.hostPlatform.system or "?"
      } package set); give a nixpkgs attribute path such as `openssl` or `llvmPackages.lld`";
in
go pkgs (u.splitOn "\\." attr)
