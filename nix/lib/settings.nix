# The keys of [workspace.metadata.ship] that say what the builds, the image and the checks need
# besides cargo: `toolchain`, `tests`, `build` and `runtime` (the last two also per variant), and
# the shape of `include`.
# The same shapes, checks and keys in errors as crates/ship/src/config/{checks,build,runtime}.rs;
# config.nix calls these and nix/*.nix use the results. builtins only.
{
  # config.nix's: fail KEY MESSAGE throws naming the manifest; knownKeys and expected as there.
  fail,
  knownKeys,
  expected,
}:
let
  u = import ./util.nix;
  inherit (builtins)
    attrNames
    elem
    elemAt
    filter
    genList
    head
    isAttrs
    isList
    isString
    length
    match
    ;

  # --- shape (serde's types and deny_unknown_fields) ------------------------------------------

  string = key: v: if isString v then true else fail key (expected "a string" v);
  stringList =
    key: v:
    if !isList v then
      fail key (expected "a sequence" v)
    else
      u.seqAll (genList (i: string "${key}[${toString i}]" (elemAt v i)) (length v)) true;
  stringMap =
    key: v:
    if !isAttrs v then
      fail key (expected "a map" v)
    else
      u.seqAll (map (n: string "${key}.${n}" v.${n}) (attrNames v)) true;
  tableOf =
    fields: key: v:
    if !isAttrs v then
      fail key (expected "a table (${u.join ", " (attrNames fields)})" v)
    else
      u.seqAll (
        [ (knownKeys key v (attrNames fields)) ]
        ++ map (n: if v ? ${n} then fields.${n} "${key}.${n}" v.${n} else true) (attrNames fields)
      ) true;

  shapes = {
    toolchain = string;
    tests = tableOf {
      targets = stringList;
      skip = stringList;
      native-build-inputs = stringList;
    };
    build = tableOf {
      native-build-inputs = stringList;
      build-inputs = stringList;
      env = stringMap;
    };
    # Its meaning: nix/lib/source.nix.
    include = stringList;
    runtime = tableOf {
      files = stringMap;
      packages = stringList;
      env = stringMap;
      working-dir = string;
      ports = stringList;
      binaries = stringList;
      labels = stringMap;
    };
  };

  # --- meaning (the checks after deserializing) -----------------------------------------------

  attrPathRe = "[A-Za-z_][A-Za-z0-9_'-]*(\\.[A-Za-z_][A-Za-z0-9_'-]*)*";
  attrPaths =
    key: list:
    u.seqAll (genList (
      i:
      let
        attr = elemAt list i;
        k = "${key}[${toString i}]";
      in
      if match attrPathRe attr == null then
        fail k "`${attr}` is not a nixpkgs attribute path; accepted: names such as `openssl` or `llvmPackages.lld`"
      else if u.repeatsEarlier list i then
        fail k "duplicate `${attr}`"
      else
        true
    ) (length list)) list;

  envName =
    key: name:
    if match "[A-Za-z_][A-Za-z0-9_]*" name != null then
      true
    else
      fail key "`${name}` is not an environment variable name; accepted: A-Z, a-z, 0-9 and _, not starting with a digit";

  reservedEnv = [
    "CARGO_PROFILE"
    "SHIP_GIT_REV"
    "CARGO_BUILD_TARGET"
  ];

  hasDotDot = p: elem ".." (u.splitOn "/" p);

  # "8080" -> "8080/tcp"; "53/udp" stays; anything else null.
  normalPort =
    p:
    let
      m = match "([1-9][0-9]{0,4})(/(tcp|udp))?" p;
    in
    if m == null || builtins.fromJSON (head m) > 65535 then
      null
    else
      "${head m}/${if elemAt m 2 == null then "tcp" else elemAt m 2}";

  targetKinds = [
    "lib"
    "bins"
    "tests"
    "examples"
    "benches"
    "doc"
  ];
  namedTargetKinds = [
    "bin"
    "test"
    "example"
    "bench"
  ];

  # `base` under `over` (a variant's table over the top-level one): a key given in `over`
  # replaces the base's, except tables (env, files, labels), whose entries are merged. Each list
  # remembers the key it was written under, for the attribute lookup's errors.
  layered =
    tables: base: over: baseKey: overKey:
    let
      names = u.unique (attrNames base ++ attrNames over);
    in
    u.genAttrs names (
      n:
      if elem n tables then
        (base.${n} or { }) // (over.${n} or { })
      else if over ? ${n} then
        over.${n}
      else
        base.${n}
    )
    // {
      _keys = u.genAttrs names (n: if over ? ${n} && !(elem n tables) then "${overKey}.${n}" else "${baseKey}.${n}");
    };

  keyOf = raw: n: raw._keys.${n} or null;

  resolveBuild =
    key: raw:
    let
      nativeBuildInputs = attrPaths "${key}.native-build-inputs" (raw.native-build-inputs or [ ]);
      buildInputs = attrPaths "${key}.build-inputs" (raw.build-inputs or [ ]);
      env = raw.env or { };
      checkEnv = map (
        n:
        builtins.seq (envName "${key}.env.${n}" n) (
          if elem n reservedEnv then
            fail "${key}.env.${n}" "`${n}` is set by ship itself; reserved: ${u.join ", " reservedEnv}"
          else
            true
        )
      ) (attrNames env);
    in
    u.seqAll ([ nativeBuildInputs buildInputs ] ++ checkEnv) {
      inherit nativeBuildInputs buildInputs env;
      keys = {
        nativeBuildInputs = keyOf raw "native-build-inputs";
        buildInputs = keyOf raw "build-inputs";
      };
    };

  resolveRuntime =
    key: binary: raw:
    let
      files = raw.files or { };
      checkFiles = map (
        from:
        let
          to = files.${from};
          k = "${key}.files.${from}";
        in
        if from == "" || u.hasPrefix "/" from || hasDotDot from then
          fail k "`${from}` must be a path relative to the workspace root, without `..` (e.g. configuration)"
        else if !(u.hasPrefix "/" to) || to == "/" || hasDotDot to then
          fail k "destination `${to}` must be an absolute path in the image, not `/`, without `..` (e.g. /app/configuration)"
        else
          true
      ) (attrNames files);
      packages = attrPaths "${key}.packages" (raw.packages or [ ]);
      env = raw.env or { };
      checkEnv = map (n: envName "${key}.env.${n}" n) (attrNames env);
      workingDir = raw.working-dir or null;
      checkWorkingDir =
        if workingDir == null || (u.hasPrefix "/" workingDir && !hasDotDot workingDir) then
          true
        else
          fail "${key}.working-dir" "`${workingDir}` must be an absolute path without `..` (e.g. /app)";
      rawPorts = raw.ports or [ ];
      ports = genList (i: normalPort (elemAt rawPorts i)) (length rawPorts);
      checkPorts = genList (
        i:
        let
          k = "${key}.ports[${toString i}]";
          p = elemAt ports i;
        in
        if p == null then
          fail k "`${elemAt rawPorts i}` is not a port; accepted: PORT, PORT/tcp or PORT/udp with PORT 1-65535"
        else if u.repeatsEarlier ports i then
          fail k "duplicate port `${p}`"
        else
          true
      ) (length rawPorts);
      binaries = raw.binaries or [ ];
      checkBinaries = genList (
        i:
        let
          b = elemAt binaries i;
          k = "${key}.binaries[${toString i}]";
        in
        if b == "" || u.hasInfix "/" b then
          fail k "`${b}` is not a binary name (non-empty, no `/`)"
        else if b == binary || u.repeatsEarlier binaries i then
          fail k "duplicate binary `${b}` (the image's own binary is `${binary}`)"
        else
          true
      ) (length binaries);
      labels = raw.labels or { };
      checkLabels = if labels ? "" then fail "${key}.labels" "empty label name" else true;
    in
    u.seqAll (checkFiles ++ [ packages ] ++ checkEnv ++ [ checkWorkingDir ] ++ checkPorts ++ checkBinaries ++ [ checkLabels ]) {
      inherit
        files
        packages
        env
        workingDir
        ports
        binaries
        labels
        ;
      keys = {
        files = keyOf raw "files";
        packages = keyOf raw "packages";
      };
    };

  resolveTests =
    raw:
    let
      targets = raw.targets or [ ];
      checkTargets = genList (
        i:
        let
          t = elemAt targets i;
          k = "tests.targets[${toString i}]";
          named = match "([a-z]+):([A-Za-z0-9_-]+)" t;
        in
        if !(elem t targetKinds || (named != null && elem (head named) namedTargetKinds)) then
          fail k "`${t}` is not a test target; accepted: ${u.join ", " targetKinds}, or ${u.join ", " namedTargetKinds} followed by `:NAME`"
        else if u.repeatsEarlier targets i then
          fail k "duplicate target `${t}`"
        else
          true
      ) (length targets);
      skip = raw.skip or [ ];
      checkSkip = genList (
        i:
        let
          s = elemAt skip i;
        in
        if match "[A-Za-z0-9_:]+" s != null then
          true
        else
          fail "tests.skip[${toString i}]" "`${s}` is not a test name; accepted: A-Z, a-z, 0-9, _ and : (a test path such as db::tests or a part of one)"
      ) (length skip);
      nativeBuildInputs = attrPaths "tests.native-build-inputs" (raw.native-build-inputs or [ ]);
    in
    u.seqAll (checkTargets ++ checkSkip ++ [ nativeBuildInputs ]) {
      inherit targets skip nativeBuildInputs;
    };

  resolveToolchain =
    raw:
    if raw == null || raw == "nixpkgs" then
      "nixpkgs"
    else if
      match "(stable|beta|nightly)(-[0-9]{4}-[0-9]{2}-[0-9]{2})?" raw != null
      || match "[0-9]+\\.[0-9]+(\\.[0-9]+)?" raw != null
    then
      raw
    else
      fail "toolchain" "`${raw}` is not a toolchain; accepted: nixpkgs, stable, beta, nightly, a version such as 1.95.0, or a dated channel such as nightly-2026-01-01";
in
{
  inherit shapes;

  # The top-level tables' shapes, then a variant's own tables'.
  shapeTop =
    raw:
    u.seqAll (map (n: if raw ? ${n} then shapes.${n} n raw.${n} else true) [
      "toolchain"
      "tests"
      "build"
      "runtime"
      "include"
    ]) true;
  shapeVariant =
    key: v:
    u.seqAll (map (n: if v ? ${n} then shapes.${n} "${key}.${n}" v.${n} else true) [
      "build"
      "runtime"
    ]) true;

  toolchain = raw: resolveToolchain (raw.toolchain or null);
  tests = raw: resolveTests (raw.tests or { });

  # Validated top-level tables, named as such when wrong.
  checkTop =
    binary: raw:
    u.seqAll [
      (resolveBuild "build" (layered [ "env" ] (raw.build or { }) { } "build" "build"))
      (resolveRuntime "runtime" binary (
        layered [ "env" "files" "labels" ] (raw.runtime or { }) { } "runtime" "runtime"
      ))
    ] true;

  # A variant's build and runtime settings: its own tables over the top-level ones.
  forVariant =
    binary: raw: name: rv:
    let
      key = "variants.${name}";
    in
    {
      build = resolveBuild "${key}.build" (
        layered [ "env" ] (raw.build or { }) (rv.build or { }) "build" "${key}.build"
      );
      runtime = resolveRuntime "${key}.runtime" binary (
        layered [ "env" "files" "labels" ] (raw.runtime or { }) (rv.runtime or { }) "runtime" "${key}.runtime"
      );
    };

  # The settings without the keys they were written under, for comparing two variants.
  comparable = s: {
    build = builtins.removeAttrs s.build [ "keys" ];
    runtime = builtins.removeAttrs s.runtime [ "keys" ];
  };
}
