# The handful of list and string helpers the pure logic needs, from builtins only, so
# nix/lib evaluates with a bare `nix-instantiate` (no nixpkgs, no network).
let
  inherit (builtins)
    concatStringsSep
    elem
    filter
    foldl'
    isString
    listToAttrs
    match
    split
    ;
in
rec {
  join = concatStringsSep;

  # "a/b/c" -> [ "a" "b" "c" ]; "" -> [ "" ] (like Rust's str::split).
  splitOn = sep: s: filter isString (split sep s);

  # split searches the whole string, newlines included (match's `.` stops at a newline).
  hasInfix = infix: s: builtins.length (split (escapeRegex infix) s) > 1;

  hasPrefix = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;

  escapeRegex = builtins.replaceStrings [
    "\\"
    "."
    "*"
    "+"
    "?"
    "("
    ")"
    "["
    "]"
    "{"
    "}"
    "|"
    "^"
    "$"
  ] [ "\\\\" "\\." "\\*" "\\+" "\\?" "\\(" "\\)" "\\[" "\\]" "\\{" "\\}" "\\|" "\\^" "\\$" ];

  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];

  # Whether the list's i-th element stands before it too: the "duplicate" check of every
  # validated list, which names the later entry as the Rust side does.
  repeatsEarlier = list: i: elem (builtins.elemAt list i) (builtins.genList (builtins.elemAt list) i);

  genAttrs = names: f: listToAttrs (map (name: { inherit name; value = f name; }) names);

  # Evaluates `checks` (a list of values that throw on failure) in order, then returns `value`,
  # so the first failing check is the one reported, as in config/parse.rs.
  # foldl' forces its accumulator at every step, so the checks run first to last.
  seqAll = checks: value: foldl' (acc: c: builtins.seq c acc) value checks;

  # A Nix value's type the way an error message should name it.
  typeName = v: builtins.typeOf v;
}
