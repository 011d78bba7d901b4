# The `tests.targets` entries that name a target (`test:NAME`, `bin:NAME`, `example:NAME`,
# `bench:NAME`) must name one the workspace has, so `nix flake check` never asks cargo for a
# target of another workspace: looked up as cargo discovers them (tests/NAME.rs,
# tests/NAME/main.rs, src/bin/..., examples/..., benches/..., src/main.rs for the package's own
# binary) and in explicit [[test]], [[bin]], [[example]], [[bench]] tables, in the root package
# and every workspace member (`dir/*` globs expanded). Returns true or fails naming the entry.
# builtins only.
{
  config,
  # The workspace root (a path).
  root,
}:
let
  u = import ./util.nix;
  inherit (builtins)
    attrNames
    concatMap
    filter
    fromTOML
    genList
    elemAt
    length
    match
    pathExists
    readDir
    readFile
    ;

  manifestOf = dir: fromTOML (readFile (dir + "/Cargo.toml"));
  rootManifest = manifestOf root;

  # `crates/*` -> every directory under crates/ with a Cargo.toml; `api` -> api.
  expand =
    pattern:
    let
      glob = match "(.*)/\\*" pattern;
    in
    if glob == null then
      [ (root + "/${pattern}") ]
    else
      let
        parent = root + "/${builtins.head glob}";
        entries = if pathExists parent then readDir parent else { };
      in
      map (n: parent + "/${n}") (filter (n: entries.${n} == "directory") (attrNames entries));
  members = filter (d: pathExists (d + "/Cargo.toml")) (
    concatMap expand (rootManifest.workspace.members or [ ])
  );
  packages = filter (d: (manifestOf d) ? package) ([ root ] ++ members);

  dirs = {
    test = "tests";
    bin = "src/bin";
    example = "examples";
    bench = "benches";
  };
  has =
    kind: name: dir:
    let
      m = manifestOf dir;
    in
    pathExists (dir + "/${dirs.${kind}}/${name}.rs")
    || pathExists (dir + "/${dirs.${kind}}/${name}/main.rs")
    || builtins.any (t: (t.name or null) == name) (m.${kind} or [ ])
    || (kind == "bin" && (m.package.name or null) == name && pathExists (dir + "/src/main.rs"));

  targets = config.tests.targets;
in
u.seqAll (genList (
  i:
  let
    t = elemAt targets i;
    named = match "([a-z]+):(.+)" t;
    kind = builtins.head named;
    name = elemAt named 1;
  in
  if named == null || builtins.any (has kind name) packages then
    true
  else
    throw "${config.manifestPath}: [workspace.metadata.ship] tests.targets[${toString i}]: no ${kind} target `${name}` in the workspace (looked in ${
      u.join ", " (map (d: "${toString d}/${dirs.${kind}}") packages)
    } and their [[${kind}]] tables)"
) (length targets)) true
