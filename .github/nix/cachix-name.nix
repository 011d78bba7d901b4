# The cachix cache name from `[workspace.metadata.ship] cache = "cachix:NAME"`, or "" when the
# cache is not cachix (a `nix copy` URL) or none is set.
#
# The workflows take the cache from `ship plan`, but a job that builds `ship` itself has to set
# up the cache before it can run `ship`, or every run would compile `ship` and the workspace's
# dependencies from scratch. Reading one key needs no build and no nixpkgs;
# crates/ship/tests/workflows.rs checks that it agrees with `ship plan`'s `cache`.
{
  manifest ? ../../Cargo.toml,
}:
let
  cache = (builtins.fromTOML (builtins.readFile manifest)).workspace.metadata.ship.cache or "";
  prefix = "cachix:";
  n = builtins.stringLength prefix;
in
if builtins.substring 0 n cache == prefix then
  builtins.substring n (builtins.stringLength cache - n) cache
else
  ""
