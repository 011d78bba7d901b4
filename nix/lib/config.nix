# [workspace.metadata.ship] of a Cargo.toml -> the validated configuration.
#
# The same defaults and the same checks, in the same order, as crates/ship/src/config/, with
# errors in its format: "<file>: [workspace.metadata.ship] <key>: <message>" naming the key and
# what would be accepted. crates/ship/tests/nix_eval.rs runs both on the same manifests and
# fails when they disagree. builtins only: no nixpkgs needed.
#
# `source` falls back to the root package's `repository`, also when that is inherited
# (`repository.workspace = true`), as cargo and config/parse.rs resolve it. `ship plan` does not
# print `source`, so the agreement test cannot see it; the config unit tests check ship's side.
{
  # The manifest's path, named in every error message.
  path,
  # Its parsed contents; the tests pass TOML parsed in place.
  manifest ? builtins.fromTOML (builtins.readFile path),
}:
let
  u = import ./util.nix;
  inherit (builtins)
    attrNames
    elem
    filter
    genList
    head
    isAttrs
    isBool
    isList
    isString
    length
    elemAt
    match
    ;

  fail = key: message: throw "${toString path}: [workspace.metadata.ship] ${key}: ${message}";

  platforms = [
    "linux/amd64"
    "linux/arm64"
  ];
  builtinProfiles = [
    "dev"
    "release"
    "test"
    "bench"
  ];
  # cargo_toml's Profiles has named fields for these; only the rest count as custom profiles.
  namedProfileTables = builtinProfiles ++ [ "doc" ];

  defaultBuilders = {
    "linux/amd64" = {
      runner = "ubuntu-24.04";
      cross = false;
    };
    "linux/arm64" = {
      runner = "ubuntu-24.04-arm";
      cross = false;
    };
  };
  defaultVariants = {
    dev = {
      profile = "dev";
      platforms = [ "linux/amd64" ];
    };
    production = {
      profile = "release";
      platforms = [
        "linux/amd64"
        "linux/arm64"
      ];
    };
  };
  defaultRules = [
    {
      tag = "v*";
      semver = true;
      variant = "production";
    }
    {
      tag = "dev-*";
      variant = "dev";
    }
  ];

  # --- shape (serde's deny_unknown_fields and types in config/raw.rs) ---------------------------
  # Keys here follow serde_path_to_error: dotted, unquoted, [i] for list elements.

  fields = {
    table = [
      "image"
      "binary"
      "cache"
      "source"
      "default-variant"
      "variants"
      "builders"
      "rules"
      "builder"
      "toolchain"
      "tests"
      "build"
      "runtime"
      "include"
    ];
    variant = [
      "profile"
      "platforms"
      "build"
      "runtime"
    ];
    builder = [
      "runner"
      "cross"
    ];
    rule = [
      "tag"
      "branch"
      "event"
      "semver"
      "variant"
    ];
  };

  expected = kind: value: "invalid type: ${builtins.typeOf value}, expected ${kind}";

  knownKeys =
    key: attrs: allowed:
    let
      unknown = filter (n: !elem n allowed) (attrNames attrs);
      prefix = if key == "" then "" else "${key}.";
    in
    if unknown == [ ] then
      true
    else
      fail "${prefix}${head unknown}" "unknown field `${head unknown}`; accepted: ${u.join ", " allowed}";

  optString =
    key: attrs: name:
    if !(attrs ? ${name}) || isString attrs.${name} then
      true
    else
      fail (if key == "" then name else "${key}.${name}") (expected "a string" attrs.${name});

  optBool =
    key: attrs: name:
    if !(attrs ? ${name}) || isBool attrs.${name} then
      true
    else
      fail "${key}.${name}" (expected "a boolean" attrs.${name});

  settings = import ./settings.nix { inherit fail knownKeys expected; };
  workspaceSource = import ./source.nix { inherit fail; };

  table =
    key: kind: value:
    if isAttrs value then true else fail key (expected kind value);

  shapeOfVariant =
    name: v:
    let
      key = "variants.${name}";
    in
    u.seqAll [
      (table key "a table (profile, platforms)" v)
      (knownKeys key v fields.variant)
      (optString key v "profile")
      (settings.shapeVariant key v)
      (
        if !(v ? platforms) then
          true
        else if !isList v.platforms then
          fail "${key}.platforms" (expected "a list" v.platforms)
        else
          u.seqAll (genList (
            i:
            let
              p = elemAt v.platforms i;
            in
            if isString p then true else fail "${key}.platforms[${toString i}]" (expected "a string" p)
          ) (length v.platforms)) true
      )
    ] true;

  shapeOfBuilder =
    name: b:
    let
      key = "builders.${name}";
    in
    u.seqAll [
      (table key "a table (runner, cross)" b)
      (knownKeys key b fields.builder)
      (optString key b "runner")
      (optBool key b "cross")
    ] true;

  shapeOfRule =
    i: r:
    let
      key = "rules[${toString i}]";
    in
    u.seqAll [
      (table key "a table (tag, branch, event, semver, variant)" r)
      (knownKeys key r fields.rule)
      (optString key r "tag")
      (optString key r "branch")
      (optString key r "event")
      (optBool key r "semver")
      (if r ? variant then optString key r "variant" else fail key "missing field `variant`")
    ] true;

  shapeOfMap =
    key: value: check:
    if !isAttrs value then
      fail key (expected "a table" value)
    else
      u.seqAll (map (n: check n value.${n}) (attrNames value)) true;

  shape =
    raw:
    if !isAttrs raw then
      fail "(table)" (expected "a table" raw)
    else
      u.seqAll [
        (knownKeys "" raw fields.table)
        (optString "" raw "image")
        (optString "" raw "binary")
        (optString "" raw "cache")
        (optString "" raw "source")
        (optString "" raw "default-variant")
        (optString "" raw "builder")
        (if raw ? variants then shapeOfMap "variants" raw.variants shapeOfVariant else true)
        (if raw ? builders then shapeOfMap "builders" raw.builders shapeOfBuilder else true)
        (
          if !(raw ? rules) then
            true
          else if !isList raw.rules then
            fail "rules" (expected "a list of tables" raw.rules)
          else
            u.seqAll (genList (i: shapeOfRule i (elemAt raw.rules i)) (length raw.rules)) true
        )
        (settings.shapeTop raw)
      ] true;

  # --- meaning (the checks config/parse.rs makes after deserializing) ---------------------------

  package = manifest.package or null;
  workspacePackage = manifest.workspace.package or { };
  # `field.workspace = true` takes the value from [workspace.package], as cargo does.
  packageField =
    name:
    if package == null || !(package ? ${name}) then
      null
    else if isAttrs package.${name} && (package.${name}.workspace or false) then
      workspacePackage.${name} or null
    else
      package.${name};

  validName = name: match "[a-z][a-z0-9-]*" name != null;

  validateImage =
    image:
    let
      parts0 = u.splitOn "/" image;
      lastPart = elemAt parts0 (length parts0 - 1);
      first = head parts0;
      isRegistry =
        length parts0 > 1 && (u.hasInfix "." first || u.hasInfix ":" first || first == "localhost");
      parts = if isRegistry then builtins.tail parts0 else parts0;
      bad = filter (p: match "[a-z0-9]([a-z0-9._-]*[a-z0-9])?" p == null) parts;
    in
    if image == "" then
      fail "image" "empty; give a repository such as ghcr.io/OWNER/NAME"
    else if u.hasInfix "@" image || u.hasInfix ":" lastPart then
      fail "image" "`${image}` has a tag or digest; give the repository only, e.g. ghcr.io/OWNER/NAME"
    else if bad != [ ] then
      fail "image" "`${image}`: path component `${head bad}` must be lowercase a-z, 0-9 and . _ - (starting and ending with a letter or digit)"
    else
      true;

  # What builds the packages (nix/per-system.nix); the checks use crane either way.
  nixBuilders = [
    "crane"
    "naersk"
  ];
  validateBuilder =
    builder:
    if elem builder nixBuilders then
      true
    else
      fail "builder" "unknown builder `${builder}`; accepted: ${u.join ", " nixBuilders}";

  cacheSchemes = [
    "file://"
    "s3://"
    "http://"
    "https://"
    "ssh://"
    "ssh-ng://"
  ];

  validateCache =
    cache:
    if u.hasPrefix "cachix:" cache then
      (
        if match "cachix:[a-z0-9-]+" cache != null then
          true
        else
          fail "cache" "`${cache}`: cachix cache names are lowercase a-z, 0-9 and -"
      )
    else if builtins.any (s: u.hasPrefix s cache) cacheSchemes then
      true
    else
      fail "cache" "`${cache}` is not a binary cache; accepted: cachix:NAME or a store URL (${
        u.join ", " (map (s: "${s}…") cacheSchemes)
      })";

  resolve =
    raw:
    let
      packageName = packageField "name";
      binary =
        if raw ? binary then
          raw.binary
        else if packageName != null then
          packageName
        else
          fail "binary" "required when the workspace has no root [package] to take the name from";
      checkBinary =
        if binary == "" || u.hasInfix "/" binary then
          fail "binary" "`${binary}` is not a binary name (non-empty, no `/`)"
        else
          true;
      image = raw.image or binary;
      source = raw.source or packageField "repository";
      cache = if (raw.cache or "") == "" then null else raw.cache;
      builder = raw.builder or "crane";

      profiles = builtins.sort builtins.lessThan (u.unique (map (n: variants.${n}.profile) variantNames));
      toolchain = settings.toolchain raw;
      tests = settings.tests raw;
      include = workspaceSource.include (dirOf path) raw;
      variantSettings = u.genAttrs variantNames (n: settings.forVariant binary raw n rawVariants.${n});
      # The flake builds one deps, app and image per profile: variants sharing one must agree.
      checkSharedProfiles = u.seqAll (genList (
        i:
        let
          name = elemAt variantNames i;
          v = variants.${name};
          clash = filter (
            w:
            variants.${w}.profile == v.profile
            && settings.comparable variantSettings.${w} != settings.comparable variantSettings.${name}
          ) (genList (j: elemAt variantNames j) i);
        in
        if clash == [ ] then
          true
        else
          fail "variants.${name}" "uses profile `${v.profile}` as variant `${head clash}` does, with other build or runtime settings; the flake builds one image per profile: give it its own profile or the same settings"
      ) (length variantNames)) true;

      customProfiles = filter (n: !elem n namedProfileTables) (attrNames (manifest.profile or { }));
      acceptedProfiles = builtinProfiles ++ customProfiles;

      rawVariants = raw.variants or defaultVariants;
      variantNames = attrNames rawVariants;
      checkVariant =
        name:
        let
          rv = rawVariants.${name};
          profile = rv.profile or "release";
          ps = rv.platforms or [ "linux/amd64" ];
          key = "variants.${name}";
          checkPlatform =
            i:
            let
              p = elemAt ps i;
              k = "${key}.platforms[${toString i}]";
            in
            if !elem p platforms then
              fail k "unknown platform `${p}`; accepted: ${u.join ", " platforms}"
            else if u.repeatsEarlier ps i then
              fail k "duplicate platform `${p}`"
            else
              true;
        in
        u.seqAll [
          (
            if validName name then
              true
            else
              fail key "variant name `${name}` must start with a-z and contain only a-z, 0-9 and -"
          )
          (
            if elem profile acceptedProfiles then
              true
            else
              fail "${key}.profile" "unknown cargo profile `${profile}`; accepted: ${u.join ", " acceptedProfiles} (or add [profile.${profile}])"
          )
          (
            if ps == [ ] then
              fail "${key}.platforms" "empty; accepted: ${u.join ", " platforms}"
            else
              u.seqAll (genList checkPlatform (length ps)) true
          )
          variantSettings.${name}.build
          variantSettings.${name}.runtime
        ] {
          inherit name profile;
          platforms = ps;
          inherit (variantSettings.${name}) build runtime;
        };
      variants = u.genAttrs variantNames checkVariant;
      checkVariants =
        if variantNames == [ ] then
          fail "variants" "at least one variant is needed"
        else
          u.seqAll (map (n: variants.${n}) variantNames) true;

      known =
        key: v:
        if elem v variantNames then
          true
        else
          fail key "unknown variant `${v}`; accepted: ${u.join ", " variantNames}";

      defaultVariant = raw.default-variant or "dev";

      rawBuilders = raw.builders or { };
      checkBuilder =
        p:
        let
          rb = rawBuilders.${p};
          key = "builders.\"${p}\"";
          cross = rb.cross or defaultBuilders.${p}.cross;
          runner =
            rb.runner or (if cross then defaultBuilders."linux/amd64".runner else defaultBuilders.${p}.runner);
        in
        if !elem p platforms then
          fail key "unknown platform `${p}`; accepted: ${u.join ", " platforms}"
        else if cross && p != "linux/arm64" then
          fail "${key}.cross" "only linux/arm64 can be cross-compiled (on x86_64-linux); accepted: false"
        else if match "[[:space:]]*" runner != null then
          fail "${key}.runner" "empty; name a GitHub runner label such as ubuntu-24.04"
        else
          { inherit runner cross; };
      configured = u.genAttrs (attrNames rawBuilders) checkBuilder;
      builders = defaultBuilders // configured;

      rawRules = raw.rules or defaultRules;
      checkRule =
        i:
        let
          rr = elemAt rawRules i;
          key = "rules[${toString i}]";
          has = n: rr ? ${n};
        in
        u.seqAll [
          (known "${key}.variant" rr.variant)
          (
            if !(has "tag" || has "branch" || has "event") then
              fail key "matches everything; give at least one of tag, branch, event (or use default-variant)"
            else
              true
          )
          (
            if has "tag" && has "branch" then
              fail key "a ref is a tag or a branch, never both: give tag or branch"
            else
              true
          )
          (
            if (rr.semver or false) && !(has "tag") then
              fail "${key}.semver" "applies to tags only: add tag = \"v*\" or drop semver"
            else
              true
          )
        ] {
          tag = rr.tag or null;
          branch = rr.branch or null;
          event = rr.event or null;
          semver = rr.semver or false;
          inherit (rr) variant;
        };
      rules = genList checkRule (length rawRules);
    in
    u.seqAll
      [
        checkBinary
        (validateImage image)
        (if cache == null then true else validateCache cache)
        (validateBuilder builder)
        toolchain
        tests
        include
        (settings.checkTop binary raw)
        checkVariants
        checkSharedProfiles
        (known "default-variant" defaultVariant)
        (u.seqAll (map (p: configured.${p}) (attrNames configured)) true)
        (u.seqAll rules true)
      ]
      {
        inherit
          image
          binary
          cache
          source
          builder
          defaultVariant
          variants
          builders
          rules
          ;
        # Not part of ship's config: what the image labels and the crane builds need.
        package = {
          name = packageName;
          version = packageField "version";
        };
        inherit
          profiles
          toolchain
          tests
          include
          ;
        # Per profile (variants sharing one agree, see checkSharedProfiles): what its builds
        # and image need.
        byProfile = u.genAttrs profiles (
          profile: variants.${head (filter (n: variants.${n}.profile == profile) variantNames)}
        );
        # For errors about keys found only when the builds are wired (nix/lib/packages.nix).
        manifestPath = toString path;
      };

  raw = manifest.workspace.metadata.ship or { };
in
builtins.seq (shape raw) (resolve raw)
