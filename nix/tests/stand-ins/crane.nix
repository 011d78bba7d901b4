# Stand-in for crane v0.23.4 (tag v0.23.4 = 10e6e3cb966f7cfcc789fe5eee7a85f3188ce08b): mkLib and
# the craneLib functions nix/*.nix calls. Sources read at that tag: lib/default.nix
# (overrideToolchain, the scope), lib/buildDepsOnly.nix, lib/buildPackage.nix,
# lib/mkCargoDerivation.nix, lib/cargoClippy.nix, lib/cargoFmt.nix, lib/cargoTest.nix,
# lib/cleanCargoSource.nix, lib/devShell.nix, lib/mkCrossToolchainEnv.nix, lib/mkDummySrc.nix,
# lib/vendorCargoDeps.nix, lib/crateNameFromCargoToml.nix and docs/API.md.
#
# Each crane derivation also records the cargo commands its build and check phases would run
# (`cargoCommands`, in crane's spelling: `cargoWithProfile` adds the profile), composed as
# that function composes them, and whether it installs its target directory
# (`installsCargoArtifacts`: buildDepsOnly always; mkCargoDerivation, cargoClippy and cargoTest
# unless doInstallCargoArtifacts = false; buildPackage only if it is true).
#
# What it rejects, and why that is the useful line: the real functions take `...` and pass every
# attribute they do not consume to stdenv.mkDerivation, where it becomes an environment
# variable. So a misspelt option (`cargoArtifactsCross`, `cargoExtraArg`, `CARGO_PROFLE`) is not
# an error there: it is silently ignored and, say, the dependencies get rebuilt inside the
# package. This stand-in accepts, per function, exactly:
#   - the options crane documents for it (its own, and mkCargoDerivation's that it passes on);
#   - the stdenv.mkDerivation attributes in `derivationAttrs` (standard names, not env vars);
#   - the environment variables the project sets on purpose, `envVars`, given by the test.
# Anything else fails evaluation with its name. It also rejects what crane accepts but throws
# away: `cargoArtifacts` on buildDepsOnly and cargoFmt (crane sets it to null),
# `nativeBuildInputs` on devShell (crane removes it), and a toolchain given as a package
# instead of a function (crane then cannot splice it for cross builds; it only warns).
{
  # Environment variables the wiring may set on crane derivations.
  envVars,
}:
let
  drv = import ./drv.nix;
  inherit (builtins)
    elem
    fromTOML
    isFunction
    readFile
    ;

  derivationAttrs = [
    "src"
    "strictDeps"
    "nativeBuildInputs"
    "buildInputs"
    "propagatedBuildInputs"
    "doCheck"
    "meta"
    "passthru"
    "env"
    "preConfigure"
    "postConfigure"
    "preBuild"
    "postBuild"
    "preCheck"
    "postCheck"
    "preInstall"
    "postInstall"
  ];

  # mkCargoDerivation's options (lib/mkCargoDerivation.nix, docs/API.md), and the ones crane's
  # helpers read from the same argument set (crateNameFromCargoToml, vendorCargoDeps).
  mkCargoDerivationOptions = [
    "buildPhase"
    "buildPhaseCargoCommand"
    "cargoArtifacts"
    "cargoLock"
    "cargoLockContents"
    "cargoLockParsed"
    "cargoToml"
    "cargoTomlContents"
    "cargoVendorDir"
    "checkPhase"
    "checkPhaseCargoCommand"
    "configurePhase"
    "doIncludeCrossToolchainEnv"
    "doInstallCargoArtifacts"
    "installPhase"
    "installPhaseCommand"
    "outputHashes"
    "pname"
    "pnameSuffix"
    "version"
    # Read by crane's cargoWithProfile; "release" when unset.
    "CARGO_PROFILE"
  ];

  own = {
    buildDepsOnly = [
      "cargoBuildCommand"
      "cargoBuildExtraArgs"
      "cargoCheckCommand"
      "cargoCheckExtraArgs"
      "cargoExtraArgs"
      "cargoTestCommand"
      "cargoTestExtraArgs"
      "dummySrc"
      "extraDummyScript"
    ];
    buildPackage = [
      "cargoBuildCommand"
      "cargoBuildExtraArgs"
      "cargoExtraArgs"
      "cargoTestCommand"
      "cargoTestExtraArgs"
    ];
    cargoClippy = [
      "cargoClippyExtraArgs"
      "cargoExtraArgs"
    ];
    cargoFmt = [
      "cargoExtraArgs"
      "rustFmtExtraArgs"
    ];
    cargoTest = [
      "cargoExtraArgs"
      "cargoTestExtraArgs"
    ];
    mkCargoDerivation = [ ];
  };
  discarded = {
    buildDepsOnly = [ "cargoArtifacts" ];
    cargoFmt = [ "cargoArtifacts" ];
  };

  check =
    fn: args:
    let
      accepted = builtins.filter (n: !elem n (discarded.${fn} or [ ])) (
        own.${fn} ++ mkCargoDerivationOptions ++ derivationAttrs ++ envVars
      );
      dropped = builtins.filter (n: elem n (discarded.${fn} or [ ])) (builtins.attrNames args);
    in
    if dropped != [ ] then
      throw "stand-in crane.${fn}: `${builtins.head dropped}` is set by ${fn} itself and the given value is ignored"
    else
      drv.checkArgs "crane.${fn}" accepted
        "not a crane option of ${fn}; real crane would set it as an environment variable and ignore it"
        args;

  mkLib = pkgs: scope pkgs null;

  # A phase's shell text as the commands it runs: one per non-empty line, blanks collapsed
  # (crane joins empty extra-argument strings with spaces).
  commandsOf =
    text:
    builtins.filter (l: l != "") (
      map (l: builtins.concatStringsSep " " (builtins.filter (w: builtins.isString w && w != "") (builtins.split " +" l))) (
        builtins.filter builtins.isString (builtins.split "\n" text)
      )
    );
  # lib/buildDepsOnly.nix: check then build (buildPhaseCargoCommand replaces both), then, when
  # doCheck, `cargo test --no-run` in the check phase.
  depsCommands =
    args:
    let
      extra = args.cargoExtraArgs or "--locked";
      doCheck = args.doCheck or true;
      checkExtra = args.cargoCheckExtraArgs or (if doCheck then "--all-targets" else "");
    in
    commandsOf (
      args.buildPhaseCargoCommand or ''
        ${args.cargoCheckCommand or "cargoWithProfile check"} ${extra} ${checkExtra}
        ${args.cargoBuildCommand or "cargoWithProfile build"} ${extra} ${args.cargoBuildExtraArgs or ""}
      ''
    )
    ++ (
      if doCheck then
        commandsOf (
          args.checkPhaseCargoCommand or "${args.cargoTestCommand or "cargoWithProfile test"} ${extra} ${args.cargoTestExtraArgs or "--no-run"}"
        )
      else
        [ ]
    );
  # lib/buildPackage.nix: the build with crane's JSON message format, the tests when doCheck.
  packageCommands =
    args:
    let
      extra = args.cargoExtraArgs or "--locked";
    in
    commandsOf (
      args.buildPhaseCargoCommand
        or "${args.cargoBuildCommand or "cargoWithProfile build"} --message-format json-render-diagnostics ${extra} ${args.cargoBuildExtraArgs or ""}"
    )
    ++ (
      if args.doCheck or true then
        commandsOf (
          args.checkPhaseCargoCommand
            or "${args.cargoTestCommand or "cargoWithProfile test"} ${extra} ${args.cargoTestExtraArgs or ""}"
        )
      else
        [ ]
    );
  # lib/mkCargoDerivation.nix: buildPhaseCargoCommand, and checkPhaseCargoCommand when doCheck
  # (stdenv's default: false).
  mkCargoDerivationCommands =
    args:
    commandsOf args.buildPhaseCargoCommand
    ++ (if args.doCheck or false then commandsOf (args.checkPhaseCargoCommand or "") else [ ]);

  scope =
    pkgs: toolchain:
    let
      inherit (pkgs.stdenv) buildPlatform hostPlatform;
      cross = buildPlatform.system != hostPlatform.system;

      # crateNameFromCargoToml: pname/version from the arguments, else from src's Cargo.toml.
      manifestOf =
        args:
        if args ? src && args.src ? origSrc then
          fromTOML (readFile (args.src.origSrc + "/Cargo.toml"))
        else
          throw "stand-in crane: unable to infer crate name and version: give src (a cleaned source) or pname and version";
      # As crane v0.23.4 (lib/internalCrateNameFromCargoToml.nix, lib/crateNameFromCargoToml.nix):
      # the package's name and version, else the workspace's, else placeholders (crane warns),
      # so a virtual workspace's root manifest evaluates.
      crateName =
        args:
        let
          m = manifestOf args;
          first = builtins.foldl' (found: v: if found == null && builtins.isString v then v else found) null;
        in
        {
          pname =
            args.pname or (
              let
                n = first [
                  (m.package.metadata.crane.name or null)
                  (m.package.name or null)
                  (m.workspace.metadata.crane.name or null)
                  (m.workspace.package.name or null)
                ];
              in
              if n == null then "cargo-package" else n
            );
          version =
            args.version or (
              let
                v = first [
                  (m.package.version or null)
                  (m.workspace.package.version or null)
                ];
              in
              if v == null then "0.0.1" else v
            );
        };

      requireSrc =
        fn: args:
        if args ? src || args ? dummySrc then args else throw "stand-in crane.${fn}: missing argument `src`";

      # cargoArtifacts must hold a cargo target directory: buildDepsOnly's output, or a crane
      # build that installs its artifacts.
      requireArtifacts =
        fn: args:
        if !(args ? cargoArtifacts) then
          throw "stand-in crane.${fn}: called without required argument `cargoArtifacts`"
        else if args.cargoArtifacts == null then
          args
        else if !(drv.isStandin args.cargoArtifacts && args.cargoArtifacts.standin.installsCargoArtifacts or false) then
          throw "stand-in crane.${fn}: cargoArtifacts is not a derivation holding cargo artifacts (buildDepsOnly, or a crane build with doInstallCargoArtifacts = true)"
        else
          args;

      build =
        fn: suffix: installsCargoArtifacts: cargoCommands: args:
        let
          n = crateName args;
        in
        drv.mk {
          fn = "crane.${fn}";
          name = "${n.pname}${suffix}-${n.version}";
          inherit args;
          info = {
            inherit toolchain installsCargoArtifacts cargoCommands;
            profile = args.CARGO_PROFILE or "release";
            # Where the result runs, and where it is built (mkCrossToolchainEnv: when these
            # differ crane exports CARGO_BUILD_TARGET = the host's rustc target).
            host = hostPlatform.system;
            build = buildPlatform.system;
            cargoBuildTarget = if cross then hostPlatform.rust.rustcTarget else null;
            cargoArtifacts = if args ? cargoArtifacts && args.cargoArtifacts != null then args.cargoArtifacts.outPath else null;
          };
        };
    in
    {
      overrideToolchain =
        toolchainFn:
        if !isFunction toolchainFn then
          throw "stand-in crane.overrideToolchain: give a function of the package set (p: toolchain); a plain toolchain cannot be spliced for cross builds"
        else
          # The toolchain that runs the build: the one made in the build-host spliced set.
          scope pkgs (toolchainFn pkgs.pkgsBuildHost);

      # lib/cleanCargoSource.nix: lib.cleanSourceWith over lib.cleanSource src (here only its
      # version-control and `result` link exclusions) with lib/filterCargoSources.nix's filter:
      # every directory, *.rs, *.toml, Cargo.lock and .cargo/config. The result has
      # lib.cleanSourceWith's shape (origSrc, where crane reads Cargo.toml from; filter; name).
      cleanCargoSource =
        src:
        pkgs.lib.cleanSourceWith {
          inherit src;
          filter =
            path: type:
            let
              base = baseNameOf path;
              cleanSource =
                !(type == "directory" && elem base [ ".git" ".svn" ".hg" "CVS" ])
                && !(type == "symlink" && builtins.match "result.*" base != null);
              cargoFile =
                type == "directory"
                || builtins.match ".*\\.(rs|toml)" base != null
                || base == "Cargo.lock"
                || (baseNameOf (dirOf path) == ".cargo" && base == "config");
            in
            cleanSource && cargoFile;
        }
        // {
          standin = {
            fn = "crane.cleanCargoSource";
          };
        };

      # Its own doInstallCargoArtifacts is overridden with true: the stand-in refuses it.
      buildDepsOnly =
        args:
        build "buildDepsOnly" "-deps" true (depsCommands args) (
          requireSrc "buildDepsOnly" (check "buildDepsOnly" args)
        );

      buildPackage =
        args:
        build "buildPackage" "" (args.doInstallCargoArtifacts or false) (packageCommands args) (
          requireArtifacts "buildPackage" (requireSrc "buildPackage" (check "buildPackage" args))
        );

      cargoClippy =
        args:
        build "cargoClippy" "-clippy" (args.doInstallCargoArtifacts or true)
          (commandsOf "cargoWithProfile clippy ${args.cargoExtraArgs or "--locked"} ${args.cargoClippyExtraArgs or "--all-targets"}")
          (requireArtifacts "cargoClippy" (check "cargoClippy" args));

      cargoFmt =
        args:
        build "cargoFmt" "-fmt" false
          (commandsOf "cargo fmt ${args.cargoExtraArgs or ""} -- --check ${args.rustFmtExtraArgs or ""}")
          (requireSrc "cargoFmt" (check "cargoFmt" args));

      cargoTest =
        args:
        build "cargoTest" "-test" (args.doInstallCargoArtifacts or true)
          (
            if args.doCheck or true then
              commandsOf "cargoWithProfile test ${args.cargoExtraArgs or "--locked"} ${args.cargoTestExtraArgs or ""}"
            else
              [ ]
          )
          (requireArtifacts "cargoTest" (check "cargoTest" args));

      # Required: cargoArtifacts and buildPhaseCargoCommand. pname and version default to the
      # Cargo.toml of src, which for a mkDummySrc source would be import-from-derivation: the
      # stand-in (crateName) wants them given then.
      mkCargoDerivation =
        args:
        if !(args ? buildPhaseCargoCommand) then
          throw "stand-in crane.mkCargoDerivation: called without required argument `buildPhaseCargoCommand`"
        else
          build "mkCargoDerivation" (args.pnameSuffix or "") (args.doInstallCargoArtifacts or true)
            (mkCargoDerivationCommands args)
            (requireArtifacts "mkCargoDerivation" (check "mkCargoDerivation" args));

      # Takes `...` and reads only src, cargoLock and extraDummyScript (lib/mkDummySrc.nix), so
      # any other argument is harmless here.
      mkDummySrc =
        args:
        drv.mk {
          fn = "crane.mkDummySrc";
          name = "dummy-src";
          args = {
            src = (requireSrc "mkDummySrc" args).src;
          }
          // builtins.intersectAttrs {
            cargoLock = null;
            extraDummyScript = null;
          } args;
        };

      # Takes `...` (lib/vendorCargoDeps.nix) and reads src / cargoLock* from it.
      vendorCargoDeps =
        args:
        drv.mk {
          fn = "crane.vendorCargoDeps";
          name = "vendor-cargo-deps";
          args = {
            src = (requireSrc "vendorCargoDeps" args).src;
          };
        };

      devShell =
        args:
        let
          accepted = [
            "checks"
            "inputsFrom"
            "packages"
            "shellHook"
            "name"
            "buildInputs"
          ]
          ++ envVars;
        in
        if args ? nativeBuildInputs then
          throw "stand-in crane.devShell: `nativeBuildInputs` is removed by crane's devShell; use packages"
        else
          drv.mk {
            fn = "crane.devShell";
            name = args.name or "nix-shell";
            args = drv.checkArgs "crane.devShell" accepted "not an option of crane's devShell or mkShell" args;
            info = { inherit toolchain; };
          };
    };
in
{
  inherit mkLib;
}
