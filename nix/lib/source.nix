# `include` of [workspace.metadata.ship]: workspace paths the crates read at compile time besides
# what crane's cleanCargoSource keeps (sqlx's `.sqlx/`, `migrations/`, `include_str!` assets).
# The same rules and keys in errors as crates/ship/src/config/source.rs; nix/per-system.nix adds
# the paths to the workspace crates' source only. Top level only: the source is one for every
# variant and the checks build from it too. builtins only.
{
  # config.nix's: fail KEY MESSAGE throws naming the manifest. Its shape is settings.nix's.
  fail,
}:
let
  u = import ./util.nix;
  inherit (builtins)
    elemAt
    genList
    length
    pathExists
    ;

  # `a/b`: non-empty components, none `.` or `..`, so one path has one spelling.
  workspacePath = p: builtins.all (c: c != "" && c != "." && c != "..") (u.splitOn "/" p);
in
{
  # The checked list, in the order given. `root`: the directory the manifest is in. Every
  # entry's form first, then their existence, in the order ship checks them (parse, then load).
  include =
    root: raw:
    let
      include = raw.include or [ ];
      key = i: "include[${toString i}]";
      form =
        i:
        let
          p = elemAt include i;
        in
        if !workspacePath p then
          fail (key i) "`${p}` is not a workspace path; accepted: a path relative to the workspace root such as `migrations` or `.sqlx`, without a leading or trailing `/`, `.` or `..`"
        else if u.repeatsEarlier include i then
          fail (key i) "duplicate `${p}`"
        else
          true;
      exists =
        i:
        let
          p = elemAt include i;
        in
        if pathExists (root + "/${p}") then
          true
        else
          fail (key i) "`${p}` does not exist in the workspace (${toString root}); a flake sees only files git tracks: git add ${p}";
    in
    u.seqAll (genList form (length include) ++ genList exists (length include)) include;
}
