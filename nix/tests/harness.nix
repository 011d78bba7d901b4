# Assertions for the Nix test suites: each case is { name, ok, detail }, and `run` either
# returns what passed or fails evaluation listing every failed case with its detail.
let
  inherit (builtins)
    concatStringsSep
    filter
    length
    map
    toJSON
    tryEval
    ;
  show = v: toJSON ((import ./stand-ins/drv.nix).sanitize v);
in
{
  inherit show;

  eq = name: actual: expected: {
    inherit name;
    ok = actual == expected;
    detail = "expected ${show expected}, got ${show actual}";
  };

  that = name: ok: detail: { inherit name ok detail; };

  # Evaluation of `value` (forced through its JSON form, which forces a stand-in's arguments
  # and so their checks) must fail.
  fails = name: value: {
    inherit name;
    ok = !(tryEval (builtins.seq (show value) true)).success;
    detail = "expected evaluation to fail, but it succeeded";
  };

  run =
    suite: cases:
    let
      failed = filter (c: !c.ok) cases;
    in
    if failed == [ ] then
      {
        passed = length cases;
        cases = map (c: c.name) cases;
      }
    else
      throw "nix/tests ${suite}: ${toString (length failed)} of ${toString (length cases)} cases failed:\n${
        concatStringsSep "\n" (map (c: "  - ${c.name}: ${c.detail}") failed)
      }";
}
