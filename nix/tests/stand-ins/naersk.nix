# Stand-in for naersk (nix-community/naersk master 3ddafa67a4c7d06483995c85c66a2d285b738833, the
# revision flake.lock pins): its default.nix, which `callPackage naersk { cargo; rustc; }` imports,
# with the same formal arguments (default.nix:1-16, no `...`: a misspelt override fails), and
# `buildPackage` as default.nix:27-78, config.nix and build.nix handle its argument.
#
# What it models, and why:
#   - config.nix:15-213 (mkAttrs) names naersk's options; config.nix:229-232 passes every OTHER
#     attribute to stdenv.mkDerivation (build.nix:603), where it becomes an environment variable.
#     A misspelt option is silently an env var there; here it fails, unless it is one of the
#     stdenv attributes in `derivationAttrs` or an environment variable in `envVars`.
#   - default.nix:46-63: the dependencies are built first, from a dummy source, in a derivation
#     named `<name>-deps-<version>` (build.nix:82) that receives EVERY argument but
#     `overrideMain` (config.nix:333 keeps it out of buildConfig and userAttrs);
#     default.nix:66-76: the top-level build gets it as `builtDependencies` and
#     `overrideMain` is applied to it alone; build.nix:371-374 exposes it as
#     `passthru.builtDependencies` (a list, `lib.optional`).
#   - config.nix:3-13: `cargoBuildOptions` and friends are functions of naersk's default list
#     (a non-function throws); the stand-in applies them to the defaults of config.nix:61.
#   - build.nix:145: `release = true` puts `--release` into `$cargo_release` (config.nix:128:
#     default true).
#   - `passthru` given by the caller would replace naersk's (build.nix:603, drvAttrs //
#     userAttrs) and lose builtDependencies: refused.
#   - `env` is not a naersk option either: stdenv.mkDerivation exports its entries, which must
#     be strings (or bools, ints, derivations) and must not also be attributes of the
#     derivation (nixpkgs pkgs/stdenv/generic/make-derivation.nix): both refused.
#   - build.nix:131-140: `nativeBuildInputs` and `buildInputs` go after naersk's own (cargo,
#     jq, rsync; crate-specific overrides), in both derivations; the recorded lists are the
#     caller's part.
# The result's `standin.attrs` are the derivation's cargo environment (cargo_build_options,
# cargo_release) and the caller's own attributes, after overrideMain for the top level.
{
  cargo,
  fetchurl,
  jq,
  lib,
  lndir,
  remarshal,
  formats,
  rsync,
  runCommandLocal,
  rustc,
  stdenv,
  writeText,
  zstd,
  clippy,
  pkgs,
}:
let
  drv = import ./drv.nix;
  inherit (builtins)
    attrNames
    elem
    filter
    fromTOML
    head
    isBool
    isFunction
    readFile
    removeAttrs
    ;

  # config.nix:15-213, in its order, and config.nix:388 (read from the argument directly).
  options = [
    "name"
    "version"
    "src"
    "root"
    "gitAllRefs"
    "gitSubmodules"
    "additionalCargoLock"
    "cratesDownloadUrl"
    "cargoBuild"
    "cargoBuildOptions"
    "remapPathPrefix"
    "cargoTestCommands"
    "cargoTestOptions"
    "cargoClippyOptions"
    "cargoFmtOptions"
    "nativeBuildInputs"
    "buildInputs"
    "cargoOptions"
    "doDoc"
    "cargoDocCommands"
    "cargoDocOptions"
    "release"
    "override"
    "overrideMain"
    "singleStep"
    "copyBins"
    "copyLibs"
    "copyBinsFilter"
    "copyLibsFilter"
    "copyDocsToSeparateOutput"
    "doDocFail"
    "removeReferencesToSrcFromDocs"
    "compressTarget"
    "copyTarget"
    "postInstall"
    "usePureFromTOML"
    "mode"
    "autoCrateSpecificOverrides"
    "copySources"
  ];
  # The list-valued options config.nix:3-13 (allowFun) turns into functions of the default.
  functionOptions = [
    "cargoBuild"
    "cargoBuildOptions"
    "cargoTestCommands"
    "cargoTestOptions"
    "cargoClippyOptions"
    "cargoFmtOptions"
    "cargoOptions"
    "cargoDocCommands"
    "cargoDocOptions"
  ];

  # stdenv.mkDerivation attributes (standard names, not env vars) this project may set.
  derivationAttrs = [
    "strictDeps"
    "doCheck"
    "meta"
    "depsBuildBuild"
    "preBuild"
    "postBuild"
    "preConfigure"
    "postConfigure"
    "env"
  ];

  inherit (stdenv) buildPlatform hostPlatform;
  cross = buildPlatform.system != hostPlatform.system;
  target = hostPlatform.rust.rustcTarget;
  cargoEnvTarget = hostPlatform.rust.cargoEnvVarTarget;
  ccTarget = builtins.replaceStrings [ "-" ] [ "_" ] target;

  # Environment variables the wiring sets on purpose: the project's own, and what cargo
  # (CARGO_BUILD_TARGET, CARGO_TARGET_<TRIPLE>_LINKER) and the cc crate (CC_<triple>,
  # AR_<triple>, HOST_CC) read for a cross build; only the target's own names pass.
  envVars = [
    "SHIP_GIT_REV"
    "CARGO_BUILD_TARGET"
    "CARGO_TARGET_${cargoEnvTarget}_LINKER"
    "CC_${ccTarget}"
    "AR_${ccTarget}"
    "HOST_CC"
  ];

  defaultCargoBuildOptions = [
    "$cargo_release"
    ''-j "$NIX_BUILD_CORES"''
    "--message-format=$cargo_message_format"
  ];

  check =
    args:
    let
      checked = drv.checkArgs "naersk.buildPackage" (options ++ derivationAttrs ++ envVars)
        "not a naersk option; real naersk would set it as an environment variable of both derivations"
        args;
      notFunctions = filter (n: args ? ${n} && !isFunction args.${n}) functionOptions;
    in
    if args ? passthru then
      throw "stand-in naersk.buildPackage: `passthru` would replace naersk's own (build.nix:603) and lose builtDependencies"
    else if notFunctions != [ ] then
      throw "stand-in naersk.buildPackage: ${head notFunctions} should be a function from list to list (config.nix:12)"
    else if args ? overrideMain && !isFunction args.overrideMain then
      throw "stand-in naersk.buildPackage: overrideMain is given to overrideAttrs: a function of the old attributes"
    else if args ? release && !isBool args.release then
      throw "stand-in naersk.buildPackage: release is true or false (config.nix:128)"
    else if !(args ? src || args ? root) then
      throw "stand-in naersk.buildPackage: please specify either 'src' or 'root'"
    else if args ? env && !builtins.isAttrs args.env then
      throw "stand-in naersk.buildPackage: env is an attribute set of environment variables (stdenv.mkDerivation)"
    else if args ? env && builtins.any (v: !builtins.isString v) (builtins.attrValues args.env) then
      throw "stand-in naersk.buildPackage: env values are strings here (stdenv.mkDerivation exports them)"
    else
      checked;

  buildPackage =
    args0:
    let
      args = check args0;
      manifestDir = if args ? root then args.root.origSrc or args.root else args.src.origSrc or args.src;
      manifest = fromTOML (readFile (manifestDir + "/Cargo.toml"));
      # config.nix:421-432.
      packageName = args.name or manifest.package.name or "rust-workspace";
      version = args.version or manifest.package.version or "unknown";
      release = args.release or true;
      cargoBuildOptions = (args.cargoBuildOptions or (x: x)) defaultCargoBuildOptions;
      userAttrs = removeAttrs args (filter (n: n != "copySources") options);
      # build.nix:81-153: the cargo environment of a derivation, then the caller's attributes.
      attrsOf =
        pname: builtDependencies:
        {
          name = "${pname}-${version}";
          cargo_release = if release then "--release" else "";
          cargo_build_options = cargoBuildOptions;
          RUSTC = "${rustc}/bin/rustc";
          builtDependencies = map (d: d.outPath) builtDependencies;
          nativeBuildInputs = args.nativeBuildInputs or [ ];
          buildInputs = args.buildInputs or [ ];
        }
        // userAttrs;
      # make-derivation.nix: an `env` entry that is also a derivation attribute is an error.
      checkEnv =
        attrs:
        let
          clash = filter (n: attrs ? ${n}) (attrNames (attrs.env or { }));
        in
        if clash == [ ] then
          attrs
        else
          throw "stand-in naersk.buildPackage: env.${head clash} is also an attribute of the derivation (stdenv.mkDerivation refuses both)";
      info = attrs: builtDependencies: {
        inherit attrs;
        toolchain = rustc;
        inherit release cargoBuildOptions;
        host = hostPlatform.system;
        build = buildPlatform.system;
        # What cargo builds for: CARGO_BUILD_TARGET when set (naersk has no cross support of
        # its own), else the machine it runs on.
        cargoBuildTarget = attrs.CARGO_BUILD_TARGET or null;
        # The deps derivation this build unpacks into target/ (configurePhase, build.nix:224).
        cargoArtifacts = if builtDependencies == [ ] then null else (head builtDependencies).outPath;
        # Never crane's: its archive is naersk's (build.nix:341-357), built with other
        # arguments, so stand-ins/crane.nix refuses it as cargoArtifacts.
        installsCargoArtifacts = false;
      };

      depsAttrs = checkEnv (attrsOf "${packageName}-deps" [ ]);
      # default.nix:46-53: the deps derivation builds lib.nix's dummySrc, made from what `root`
      # holds (config.nix:239-262: `root` defaults to `src`; Cargo.tomls, Cargo.lock and
      # .cargo/config read from it, config.nix:356-413, default.nix:32-37), and takes `src`
      # only to copy [patch] paths from (copySourcesFrom, config.nix:376-397). Recorded whole:
      # a change anywhere in `root` counts as a change of the deps here.
      patchPaths = builtins.any (r: builtins.any (d: builtins.isAttrs d && d ? path) (builtins.attrValues r)) (
        builtins.attrValues (manifest.patch or { })
      );
      dummySrc = drv.mk {
        fn = "naersk.dummySrc";
        name = "dummy-src";
        args = {
          root = args.root or args.src;
        }
        // (if patchPaths then { copySourcesFrom = args.src; } else { });
      };
      deps = drv.mk {
        fn = "naersk.buildPackage.deps";
        name = depsAttrs.name;
        args = removeAttrs args [
          "overrideMain"
          "src"
          "root"
        ]
        // {
          src = dummySrc;
        };
        info = info depsAttrs [ ];
      };
      singleStep = args.singleStep or false;
      builtDependencies = if singleStep then [ ] else [ deps ];
      mainAttrs0 = attrsOf packageName builtDependencies;
      mainAttrs = checkEnv (mainAttrs0 // (args.overrideMain or (x: { })) mainAttrs0);
    in
    drv.mk {
      fn = "naersk.buildPackage";
      name = mainAttrs.name;
      inherit args;
      info = info mainAttrs builtDependencies;
    }
    // {
      passthru = {
        inherit builtDependencies;
      };
      inherit builtDependencies;
    };
in
builtins.seq (cargo.outPath or cargo) {
  inherit buildPackage;
}
