# The `cargo test` arguments of checks.tests, from the configuration's `tests` table: its target
# selections (`lib` -> --lib, `test:http` -> --test http), then `-- --skip NAME` for each test
# left out. Empty when nothing is configured: cargo's default over the whole workspace (crane's
# cargoExtraArgs selects it). The names are validated (config.nix) to need no shell quoting.
tests:
let
  u = import ./util.nix;
  target =
    t:
    let
      named = builtins.match "([a-z]+):(.+)" t;
    in
    if named == null then "--${t}" else "--${builtins.head named} ${builtins.elemAt named 1}";
  skips = builtins.concatMap (s: [
    "--skip"
    s
  ]) tests.skip;
in
u.join " " (map target tests.targets ++ (if skips == [ ] then [ ] else [ "--" ] ++ skips))
