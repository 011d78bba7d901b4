# The flake itself (flake.nix -> nix/flake-lib.nix and everything it calls) evaluated against
# the stand-ins of its inputs, and what must hold of the result: the structure `nix flake show`
# would list, deps and package sharing their arguments, the git revision only where it
# belongs, each image running its own variant's binary, arm64 from the cross build.
let
  h = import ./harness.nix;
  shipLib = import ../lib;
  inherit (shipLib) attrs;
  u = shipLib.util;
  inherit (builtins)
    attrNames
    concatMap
    elem
    filter
    head
    mapAttrs
    match
    ;

  rev = "0123456789abcdef0123456789abcdef01234567";
  envVars = [ "SHIP_GIT_REV" ];
  flakeWith = r: (import ../../flake.nix).outputs (import ./stand-ins { inherit envVars; rev = r; });
  flake = flakeWith rev;
  dirty = flakeWith null;

  config = shipLib.config { path = ../../Cargo.toml; };
  # Which Rust the workspace asks for (nix/lib/toolchain.nix): this repository's file, or in
  # copies nix_wiring.rs makes, the `toolchain` key or nothing (nixpkgs' Rust).
  toolchain = shipLib.toolchain {
    inherit config;
    root = ../..;
  };
  # The rust-overlay toolchain every build must get: the file's, or the key's channel with what
  # checks.clippy and checks.fmt run; null for nixpkgs' own.
  overlayToolchain =
    if toolchain.kind == "file" then
      {
        inherit ((builtins.fromTOML (builtins.readFile toolchain.file)).toolchain) channel profile components;
        source = "rust-toolchain.toml";
      }
    else if toolchain.kind == "channel" then
      {
        inherit (toolchain) channel;
        profile = "minimal";
        components = [
          "clippy"
          "rustfmt"
        ];
        source = "the `toolchain` key";
      }
    else
      null;
  rustOverlay = import ./stand-ins/rust-overlay.nix;
  lock = builtins.fromJSON (builtins.readFile ../../flake.lock);
  naersk = config.builder == "naersk";
  # The environment a package build gets: crane's arguments, or naersk's derivation
  # attributes after overrideMain (stand-ins/naersk.nix).
  envOf = p: if naersk then p.standin.attrs else p.standin.args;

  # Every (system, profile, native or cross) build with its three packages.
  builds = concatMap (
    system:
    concatMap (
      profile:
      let
        nativePlatform = if system == "x86_64-linux" then "linux/amd64" else "linux/arm64";
        one = platform: cross: rec {
          inherit
            system
            profile
            platform
            cross
            ;
          names = attrs.forPlatform profile platform cross;
          label = "${system}.${names.image}";
          deps = flake.packages.${system}.${names.deps};
          app = flake.packages.${system}.${names.app};
          image = flake.packages.${system}.${names.image};
        };
      in
      [ (one nativePlatform false) ]
      ++ (if system == attrs.crossBuildSystem then [ (one "linux/arm64" true) ] else [ ])
    ) config.profiles
  ) attrs.systems;

  # Arguments deps and package may differ in: the deps' own cargo commands and doCheck, and
  # what only a package has.
  depsOnly = [
    "doCheck"
    "buildPhaseCargoCommand"
  ];
  appOnly = [
    "cargoArtifacts"
    "cargoBuildExtraArgs"
    "SHIP_GIT_REV"
    "meta"
    "pname"
    "version"
  ];
  sharedArgCases =
    b:
    let
      d = b.deps.standin.args;
      a = b.app.standin.args;
      # With `include`, the packages' source is the deps' plus the included paths (checked
      # below); everything else is shared as is.
      srcDiffers = config.include != [ ];
      shared = filter (n: a ? ${n} && !elem n depsOnly && !(srcDiffers && n == "src")) (attrNames d);
      differing = filter (n: h.show d.${n} != h.show a.${n}) shared;
      # One file of each `include` path (this repository's: ship init's templates).
      includedFile = "${toString ../..}/crates/ship/src/init/templates/ship.yml";
      missingInApp = filter (n: !(a ? ${n}) && !elem n depsOnly) (attrNames d);
      extraInApp = filter (n: !(d ? ${n}) && !elem n appOnly) (attrNames a);
    in
    [
      (h.that "${b.label}: deps and package get identical shared arguments" (differing == [ ])
        "differ in ${h.show differing}"
      )
      (h.eq "${b.label}: an `include` file is in the package's source, not the deps'"
        [ (d.src.filter includedFile "regular") (a.src.filter includedFile "regular") ]
        [ false true ]
      )
      (h.that "${b.label}: every deps argument reaches the package" (missingInApp == [ ])
        "only in deps: ${h.show missingInApp}"
      )
      (h.that "${b.label}: the package adds only package arguments" (extraInApp == [ ])
        "only in the package: ${h.show extraInApp}"
      )
      (h.eq "${b.label}: the package builds on that deps derivation by the name cargoArtifacts"
        b.app.standin.cargoArtifacts
        b.deps.outPath
      )
      (h.eq "${b.label}: deps are crane buildDepsOnly" b.deps.standin.fn "crane.buildDepsOnly")
      (h.eq "${b.label}: CARGO_PROFILE" [ (d.CARGO_PROFILE or null) (a.CARGO_PROFILE or null) ] [ b.profile b.profile ])
      (h.eq "${b.label}: the git revision reaches the package" (a.SHIP_GIT_REV or null) rev)
      (h.that "${b.label}: the git revision stays out of the deps" (!(d ? SHIP_GIT_REV)) "deps has SHIP_GIT_REV")
      (h.eq "${b.label}: the package builds the configured binary" (a.cargoBuildExtraArgs or null) "--bin ${config.binary}")
      # The cargo passes crane runs (the stand-in composes them as crane does).
      (h.eq "${b.label}: the image's deps run `cargo build` only (no check pass, no test build)"
        b.deps.standin.cargoCommands
        [ "cargoWithProfile build --locked --workspace" ]
      )
      (h.eq "${b.label}: the package compiles only the binary, no tests" b.app.standin.cargoCommands [
        "cargoWithProfile build --message-format json-render-diagnostics --locked --workspace --bin ${config.binary}"
      ])
      (h.eq "${b.label}: deps install their artifacts, the package does not" [
        b.deps.standin.installsCargoArtifacts
        b.app.standin.installsCargoArtifacts
      ] [ true false ])
    ];

  # builder = "naersk": one deps derivation per profile and target, from every argument but
  # overrideMain (naersk default.nix:54,76), so everything per binary goes through overrideMain.
  naerskArgCases =
    b:
    let
      d = b.deps.standin;
      a = b.app.standin;
      opts = d.attrs.cargo_build_options;
      appOpts = a.attrs.cargo_build_options;
      n = builtins.length appOpts;
      build = config.byProfile.${b.profile}.build // {
        inherit (config.byProfile.${b.profile}.runtime) binaries;
      };
      names = map (x: x.name);
      hosts = map (x: x.standin.host);
    in
    [
      (h.eq "${b.label}: deps are naersk's deps derivation" d.fn "naersk.buildPackage.deps")
      (h.eq "${b.label}: the package is naersk's buildPackage" a.fn "naersk.buildPackage")
      (h.eq "${b.label}: the package unpacks that deps derivation (passthru.builtDependencies)"
        (map (x: x.outPath) b.app.passthru.builtDependencies)
        [ b.deps.outPath ]
      )
      (h.that "${b.label}: no --bin in the deps derivation (its dummy source has no binaries)" (!(elem "--bin" opts)) "deps cargo_build_options ${h.show opts}")
      (h.eq "${b.label}: the package builds the configured binary" [
        (builtins.elemAt appOpts (builtins.length opts))
        (builtins.elemAt appOpts (builtins.length opts + 1))
      ] [ "--bin" config.binary ])
      (h.eq "${b.label}: deps and package build the same cargo command but --bin" (builtins.genList (builtins.elemAt appOpts) (builtins.length opts)) opts)
      (h.that "${b.label}: the whole workspace, locked" (elem "--workspace" opts && elem "--locked" opts) (h.show opts))
      (h.eq "${b.label}: the profile (release = true only for release)" [ d.release a.release ] [
        (b.profile == "release")
        (b.profile == "release")
      ])
      (h.that "${b.label}: other profiles by --profile" (
        if b.profile == "dev" || b.profile == "release" then !(elem "--profile" opts) else u.hasInfix "--profile ${b.profile}" (toString opts)
      ) (h.show opts))
      (h.eq "${b.label}: the git revision reaches the package" (a.attrs.SHIP_GIT_REV or null) rev)
      (h.that "${b.label}: the git revision stays out of the deps" (!(d.attrs ? SHIP_GIT_REV)) "deps has SHIP_GIT_REV")
      (h.eq "${b.label}: the package's main program" (a.attrs.meta.mainProgram or null) config.binary)
      (h.eq "${b.label}: the deps derivation's name" b.deps.name "${config.package.name}-deps-${config.package.version}")
      (h.eq "${b.label}: the package also builds the runtime binaries, the deps none"
        (builtins.genList (i: builtins.elemAt appOpts (builtins.length opts + i)) (n - builtins.length opts))
        (concatMap (x: [ "--bin" x ]) ([ config.binary ] ++ build.binaries))
      )
      # The `build` key, as crate.nix has it (nix/tests/workspaces.nix): in both derivations.
      (h.eq "${b.label}: native build inputs are the configured tools, in deps and package"
        (map (x: names x.nativeBuildInputs) [ d.attrs a.attrs ])
        [ build.nativeBuildInputs build.nativeBuildInputs ]
      )
      (h.eq "${b.label}: native build inputs run on the build machine" (u.unique (hosts (d.attrs.nativeBuildInputs ++ a.attrs.nativeBuildInputs))) (
        if build.nativeBuildInputs == [ ] then [ ] else [ b.system ]
      ))
      (h.eq "${b.label}: build inputs are the configured libraries, in deps and package"
        (map (x: names x.buildInputs) [ d.attrs a.attrs ])
        [ build.buildInputs build.buildInputs ]
      )
      (h.eq "${b.label}: build inputs are for the platform the binary runs on" (u.unique (hosts (d.attrs.buildInputs ++ a.attrs.buildInputs))) (
        if build.buildInputs == [ ] then [ ] else [ attrs.nativeSystem.${b.platform} ]
      ))
      (h.eq "${b.label}: the build env reaches deps and package" [ (d.attrs.env or { }) (a.attrs.env or { }) ] [ build.env build.env ])
    ]
    ++ (
      if !b.cross then
        [ (h.that "${b.label}: no cross environment natively" (!(d.attrs ? CARGO_BUILD_TARGET)) "CARGO_BUILD_TARGET set") ]
      else
        [
          (h.eq "${b.label}: cargo's linker and the cc crate's tools are aarch64's (deps and package)"
            (map (x: [
              (x.CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER or null)
              (x.CC_aarch64_unknown_linux_gnu or null)
              (x.AR_aarch64_unknown_linux_gnu or null)
            ]) [ d.attrs a.attrs ])
            [
              [ "aarch64-unknown-linux-gnu-cc" "aarch64-unknown-linux-gnu-cc" "aarch64-unknown-linux-gnu-ar" ]
              [ "aarch64-unknown-linux-gnu-cc" "aarch64-unknown-linux-gnu-cc" "aarch64-unknown-linux-gnu-ar" ]
            ]
          )
          (h.eq "${b.label}: build scripts get the build machine's cc"
            (map (x: x.standin.host) (d.attrs.depsBuildBuild or [ ]))
            [ "x86_64-linux" ]
          )
        ]
    );

  imageCases =
    b:
    let
      s = b.image.standin;
      arch = attrs.arch.${b.platform};
      labels = s.config.Labels or { };
      runtime = config.byProfile.${b.profile}.runtime;
      cacertOf = s: (builtins.head (builtins.filter (c: c.name == "cacert") s.contents)).outPath;
    in
    [
      (h.eq "${b.label}: made by dockerTools.streamLayeredImage" s.fn "dockerTools.streamLayeredImage")
      (h.eq "${b.label}: entrypoint is this build's binary" (s.config.Entrypoint or null) [
        "${b.app.outPath}/bin/${config.binary}"
      ])
      (h.eq "${b.label}: architecture" s.architecture arch)
      (h.eq "${b.label}: dockerTools of the image's platform (its default architecture agrees)"
        s.host
        attrs.nativeSystem.${b.platform}
      )
      (h.eq "${b.label}: the binary runs where the image runs" b.app.standin.host attrs.nativeSystem.${b.platform})
      (h.eq "${b.label}: no base image" s.fromImage null)
      (h.eq "${b.label}: fixed creation date" s.created "1970-01-01T00:00:01Z")
      (h.that "${b.label}: non-root user" (match "(0|root)(:.*)?" (s.config.User or "0") == null)
        "User = ${s.config.User or "(unset)"}"
      )
      (h.eq "${b.label}: revision label" (labels."org.opencontainers.image.revision" or null) rev)
      (h.eq "${b.label}: source and version labels" [
        (labels."org.opencontainers.image.source" or null)
        (labels."org.opencontainers.image.version" or null)
      ] [ config.source config.package.version ])
      (h.eq "${b.label}: ports from the configuration" (attrNames (s.config.ExposedPorts or { })) config.byProfile.${b.profile}.runtime.ports)
      (h.eq "${b.label}: env from the configuration, SSL_CERT_FILE from cacert" (s.config.Env or null) (
        let
          env = runtime.env // {
            SSL_CERT_FILE = "${cacertOf s}/etc/ssl/certs/ca-bundle.crt";
          };
        in
        map (n: "${n}=${env.${n}}") (attrNames env)
      ))
      (h.eq "${b.label}: the demo's environment per variant" (runtime.env.APP_ENVIRONMENT or null) (
        if b.profile == "release" then "production" else "development"
      ))
      (h.eq "${b.label}: working dir from the configuration" (s.config.WorkingDir or null) runtime.workingDir)
      (h.that "${b.label}: configuration/ copied to /app/configuration" (u.hasInfix "cp -rT --no-preserve=mode '${toString ../..}/configuration' './app/configuration'" (s.args.extraCommands or "")) (s.args.extraCommands or "(none)"))
      # Only text files and the configured packages besides the entrypoint's closure: no
      # toolchain, no sources.
      (h.eq "${b.label}: contents are /etc/passwd, /etc/group, the configured packages and the runtime binaries' build" (map (c: [
        c.standin.fn
        (c.standin.args.path or c.name)
      ]) s.contents) ([
        [
          "writeTextDir"
          "etc/passwd"
        ]
        [
          "writeTextDir"
          "etc/group"
        ]
      ] ++ map (n: [ "nixpkgs.package" n ]) runtime.packages
      # The other binaries on PATH: the very build the entrypoint comes from.
      ++ (if runtime.binaries == [ ] then [ ] else [ [ b.app.standin.fn b.app.name ] ])))
      (h.eq "${b.label}: the packages are the image platform's" (u.unique (map (c: c.standin.host) s.contents)) [ attrs.nativeSystem.${b.platform} ])
    ];

  toolchainCases =
    b:
    let
      t = b.app.standin.toolchain;
      ts = if t == null then { } else t.standin;
    in
    if overlayToolchain == null then
      [
        # crane's own default (the stand-in records no override); naersk is given nixpkgs'
        # rustc from the build machine's set, as it interpolates it (nix/per-system.nix).
        (h.eq "${b.label}: built with nixpkgs' Rust, the build machine's" (if t == null then null else [ t.name (ts.host or null) ]) (
          if naersk then [ "rustc" b.system ] else null
        ))
      ]
    else
      [
        (h.that "${b.label}: built with the rust-overlay toolchain, not nixpkgs' rustc" (ts ? channel) "no toolchain override")
        (h.eq "${b.label}: the toolchain ${overlayToolchain.source} names" [ (ts.channel or null) (ts.profile or null) (ts.components or null) ] [
          overlayToolchain.channel
          overlayToolchain.profile
          overlayToolchain.components
        ])
        (h.eq "${b.label}: the toolchain runs on the build machine" (ts.host or null) b.system)
        (h.that "${b.label}: the toolchain has the target's standard library" (elem (if b.platform == "linux/arm64" then "aarch64-unknown-linux-gnu" else "x86_64-unknown-linux-gnu") (ts.targets or [ ]))
          "targets ${h.show (ts.targets or [ ])}"
        )
      ];

  crossCases =
    b:
    if !b.cross then
      [ ]
    else
      [
        (h.eq "${b.label}: cross build runs on x86_64-linux" b.app.standin.build "x86_64-linux")
        (h.eq "${b.label}: cross build targets aarch64" b.app.standin.cargoBuildTarget "aarch64-unknown-linux-gnu")
        (h.eq "${b.label}: its deps are cross-built too" [ b.deps.standin.host b.deps.standin.build ] [
          "aarch64-linux"
          "x86_64-linux"
        ])
        (h.eq "${b.label}: no tests under cross (they would need QEMU)" (b.deps.standin.args.doCheck or null) false)
      ];

  packagesOf = system: flake.packages.${system};
  devDeps = system: (packagesOf system).deps-dev.outPath;
  # The source a deps derivation is made from: crane's buildDepsOnly takes it as `src`, naersk's
  # deps derivation builds a dummy source made from `root` (stand-ins/naersk.nix).
  depsSource = d: h.show (if naersk then d.standin.args.src.standin.args.root else d.standin.args.src);
  # The deps the checks' deps build on, by the argument crane gets: with naersk, crane's dev
  # deps, which are no package of their own.
  checksDevDeps = system: (packagesOf system).deps-checks.standin.args.cargoArtifacts or null;
  # Every derivation of a system the artifact assertions look at: its packages and checks, and
  # what the checks' deps build on (with naersk not among the packages).
  everything =
    system:
    builtins.attrValues (packagesOf system)
    ++ builtins.attrValues flake.checks.${system}
    ++ filter (x: x != null) [ (checksDevDeps system) ];
  releaseDeps = system: (packagesOf system).deps-release.outPath;
  # What packages.ship builds on (nix/ship.nix), which is no package of its own.
  shipDeps = system: (packagesOf system).ship.standin.args.cargoArtifacts;

  perSystemCases =
    system:
    let
      p = packagesOf system;
      c = flake.checks.${system};
      apps = flake.apps.${system};
    in
    [
      (h.eq "${system}: package names are nix/lib/attrs.nix's" (attrNames p) (attrs.packageNames config).${system})
      (h.eq "${system}: checks" (attrNames c) [
        "clippy"
        "fmt"
        "image-dev"
        "nix-tests"
        "tests"
      ])
      (h.eq "${system}: apps" (attrNames apps) [
        "release"
        "ship"
      ])
      (h.that "${system}: apps are well-formed flake apps" (
        builtins.all (a: a.type == "app" && match "/nix/store/[^/]+/bin/.+" a.program != null) (
          builtins.attrValues apps
        )
      ) (h.show apps))
      (h.eq "${system}: apps.ship runs the ship package" apps.ship.program "${p.ship.outPath}/bin/ship")
      (h.eq "${system}: default is the release build of the service" p.default.outPath p.app-release.outPath)
      # Whatever builds the workspace: crane, from ship's own source (nix/ship.nix).
      (h.eq "${system}: ship is crane's package on ship's own deps" [
        p.ship.standin.fn
        (shipDeps system).standin.fn
        p.ship.standin.cargoArtifacts
      ] [ "crane.buildPackage" "crane.buildDepsOnly" (shipDeps system).outPath ])
      (h.that "${system}: ship's deps are not the workspace's" (
        !elem (shipDeps system).outPath (map (x: x.outPath) (builtins.attrValues p))
      ) "ship builds on a deps package of the workspace")
      (h.eq "${system}: ship builds the ship binary" [ (p.ship.standin.args.cargoBuildExtraArgs or null) (p.ship.standin.args.pname or null) ] [
        "--bin ship"
        "ship"
      ])
      (h.eq "${system}: ship's deps run `cargo build` of ship only" (shipDeps system).standin.cargoCommands [
        "cargoWithProfile build --locked --package ship"
      ])
      (
        let
          d = (shipDeps system).standin.args;
          shared = filter (n: !elem n depsOnly) (attrNames d);
        in
        h.eq "${system}: ship gets every argument of its deps (commonArgs)" (map (n: h.show (p.ship.standin.args.${n} or null)) shared) (
          map (n: h.show d.${n}) shared
        )
      )
      (h.eq "${system}: ship's source is ship's manifests and sources, not the demo's" p.ship.standin.args.src._standinFiles (map toString [
        ../../Cargo.toml
        ../../Cargo.lock
        ../../crates/ship/Cargo.toml
        ../../crates/ship/src
        ../../crates/ship-test-support/Cargo.toml
        ../../crates/ship-test-support/src
      ]))
      # This repository is ship's: ship gets the Rust the workspace gets.
      (h.eq "${system}: ship is built with the Rust ship's repository names" (
        let
          t = p.ship.standin.toolchain;
        in
        if t == null then null else t.standin.channel
      ) (if overlayToolchain == null then null else overlayToolchain.channel))
      (h.that "${system}: ship does not change with every commit" (!(p.ship.standin.args ? SHIP_GIT_REV)) "ship has SHIP_GIT_REV")
      # With crane the checks' deps build on the images' dev deps; with naersk on crane's own
      # dev deps (naersk's deps derivation holds no crane archive), which run `cargo build` only
      # too and share the images' source and profile.
      (
        if naersk then
          h.eq "${system}: the checks' deps build on crane's dev deps, not naersk's" [
            ((checksDevDeps system).standin.fn or null)
            ((checksDevDeps system).standin.args.CARGO_PROFILE or null)
            ((checksDevDeps system).standin.cargoCommands or null)
            (p.deps-checks.standin.cargoArtifacts != devDeps system)
          ] [ "crane.buildDepsOnly" "dev" [ "cargoWithProfile build --locked --workspace" ] true ]
        else
          h.eq "${system}: the checks' deps build on the dev deps" p.deps-checks.standin.cargoArtifacts (devDeps system)
      )
      (h.eq "${system}: the checks' deps are crane's mkCargoDerivation" p.deps-checks.standin.fn "crane.mkCargoDerivation")
      (h.eq "${system}: the checks' deps run the check pass and the test build, nothing else" (p.deps-checks.standin.cargoCommands or null) [
        "cargoWithProfile check --locked --workspace --all-targets"
        "cargoWithProfile test --locked --workspace --no-run"
      ])
      (h.eq "${system}: the checks' deps build from crane's dummy source of the deps' source" [
        (p.deps-checks.standin.args.src.standin.fn or null)
        (h.show (p.deps-checks.standin.args.src.standin.args.src or null))
      ] [ "crane.mkDummySrc" (depsSource p.deps-dev) ])
      (h.eq "${system}: the checks' deps share the dev deps' profile" (p.deps-checks.standin.args.CARGO_PROFILE or null) "dev")
      (h.that "${system}: the only check pass is the checks' deps'" (
        let
          checking = filter (x: builtins.any (cmd: u.hasPrefix "cargoWithProfile check " cmd) (x.standin.cargoCommands or [ ])) (everything system);
        in
        map (x: x.outPath) checking == [ p.deps-checks.outPath ]
      ) "another derivation runs `cargo check`")
      (h.that "${system}: only what something builds on installs its cargo artifacts" (
        let
          all = everything system;
          read = map (x: x.standin.cargoArtifacts or null) all;
          leaves = filter (x: (x.standin.installsCargoArtifacts or false) && !elem x.outPath read) all;
        in
        leaves == [ ]
      ) "a leaf installs target.tar.zst that nobody reads")
      (h.eq "${system}: clippy and tests install no artifacts" [
        c.clippy.standin.installsCargoArtifacts
        c.tests.standin.installsCargoArtifacts
      ] [ false false ])
      (h.eq "${system}: clippy reuses the checks' deps" c.clippy.standin.cargoArtifacts p.deps-checks.outPath)
      (h.eq "${system}: clippy denies warnings on all targets" (c.clippy.standin.args.cargoClippyExtraArgs or null) "--all-targets -- --deny warnings")
      (h.eq "${system}: tests reuse the checks' deps" c.tests.standin.cargoArtifacts p.deps-checks.outPath)
      (h.eq "${system}: tests run what the tests key selects" (c.tests.standin.args.cargoTestExtraArgs or null) (shipLib.testArgs config.tests))
      (h.eq "${system}: this repository's tests key selects only sandbox-safe targets" (shipLib.testArgs config.tests) "--lib --bins --test http --test plan_cli")
      (h.eq "${system}: tests get the tests key's tools after the builds' own" (map (x: x.name) (c.tests.standin.args.nativeBuildInputs or [ ])) (
        map (x: x.name) (p.deps-dev.standin.args.nativeBuildInputs or [ ]) ++ config.tests.nativeBuildInputs
      ))
      (h.eq "${system}: clippy and tests share the dev build's arguments" [
        (c.clippy.standin.args.CARGO_PROFILE or null)
        (c.tests.standin.args.CARGO_PROFILE or null)
        (h.show (c.tests.standin.args.src or null))
      ] [ "dev" "dev" (h.show (p.app-dev.standin.args.src or null)) ])
      (h.eq "${system}: the image check is the dev image" c.image-dev.outPath p.image-dev.outPath)
      (h.eq "${system}: fmt is crane's cargoFmt" c.fmt.standin.fn "crane.cargoFmt")
      (h.that "${system}: nix-tests' source holds the test targets the tests key names" (
        builtins.all (f: elem (toString f) (c.nix-tests.standin.args.src._standinFiles or [ ])) [
          ../../tests/http.rs
          ../../crates/ship/tests/plan_cli.rs
        ]
      ) (h.show (c.nix-tests.standin.args.src._standinFiles or [ ])))
      (h.that "${system}: nix-tests' source holds ship's, which the suites evaluate packages.ship from" (
        builtins.all (f: elem f (c.nix-tests.standin.args.src._standinFiles or [ ])) p.ship.standin.args.src._standinFiles
      ) (h.show (c.nix-tests.standin.args.src._standinFiles or [ ])))
      (h.that "${system}: nix-tests runs nix/tests" (
        u.hasInfix "nix-instantiate" (c.nix-tests.standin.args.buildCommand or "") && u.hasInfix "/nix/tests" (c.nix-tests.standin.args.buildCommand or "")
      ) (c.nix-tests.standin.args.buildCommand or "(none)"))
      (h.eq "${system}: formatter" flake.formatter.${system}.name "nixfmt-tree")
      (h.eq "${system}: dev shell" flake.devShells.${system}.default.standin.fn "crane.devShell")
      (h.that "${system}: dev shell has the test tools" (
        let
          names = map (x: x.name) flake.devShells.${system}.default.standin.args.packages;
        in
        builtins.all (n: elem n names) [
          "nix"
          "docker-registry"
          "skopeo"
          "umoci"
          "qemu-aarch64-static"
          "jq"
          "zstd"
          "xz"
          "shellcheck"
          "actionlint"
          "openssl"
        ]
      ) (h.show (map (x: x.name) (flake.devShells.${system}.default.standin.args.packages or [ ]))))
    ];

  # apps.release is nix/release.nix around this system's ship package: rebuilding that
  # wrapper here must give the very store path the app runs.
  releaseCases = concatMap (
    system:
    let
      inputs = import ./stand-ins { inherit envVars rev; };
      pkgs = import inputs.nixpkgs {
        localSystem = system;
        overlays = [ inputs.rust-overlay.overlays.default ];
      };
      ship = flake.packages.${system}.ship;
      wrapper = pkgs.callPackage ../release.nix { inherit ship; };
      w = {
        text = "";
        runtimeInputs = [ ];
      }
      // wrapper.standin.args;
    in
    [
      (h.eq "${system}: apps.release runs nix/release.nix's wrapper of ship" flake.apps.${system}.release.program "${wrapper.outPath}/bin/ship-release")
      (h.that "${system}: the wrapper runs `ship release`" (u.hasInfix "exec ship release \"$@\"" w.text) w.text)
      (h.that "${system}: the wrapper puts ship and cachix on PATH" (
        elem ship.outPath (map (x: x.outPath) w.runtimeInputs)
        && elem "cachix" (map (x: x.name) w.runtimeInputs)
      ) (h.show w.runtimeInputs))
      (h.that "${system}: nix is on PATH after the runner's own" (u.hasInfix "export PATH=\"$PATH:${pkgs.nix.outPath}/bin\"" w.text) w.text)
    ]
  ) attrs.systems;

  dirtyCases = [
    (h.eq "a dirty tree builds with SHIP_GIT_REV = dirty" ((envOf dirty.packages.x86_64-linux.app-release).SHIP_GIT_REV or null) "dirty")
    (h.eq "a new commit leaves the deps alone" dirty.packages.x86_64-linux.deps-release.outPath flake.packages.x86_64-linux.deps-release.outPath)
    (h.eq "a new commit leaves the checks' deps alone" dirty.packages.x86_64-linux.deps-checks.outPath flake.packages.x86_64-linux.deps-checks.outPath)
    (h.that "a new commit rebuilds the package" (
      dirty.packages.x86_64-linux.app-release.outPath != flake.packages.x86_64-linux.app-release.outPath
    ) "same outPath")
  ];

  lockCases = [
    (h.eq "the rust-overlay stand-in models the locked revision" rustOverlay.rev lock.nodes.rust-overlay.locked.rev)
  ]
  ++ (
    if overlayToolchain == null then
      [ ]
    else
      [ (h.that "rust-overlay at that revision knows the pinned Rust" (elem overlayToolchain.channel rustOverlay.stableVersions) overlayToolchain.channel) ]
  )
  ++ [
    (h.eq "the lock's inputs are the flake's" (attrNames lock.nodes.root.inputs) (attrNames (import ../../flake.nix).inputs))
    (h.eq "rust-overlay follows our nixpkgs" lock.nodes.rust-overlay.inputs.nixpkgs [ "nixpkgs" ])
    (h.eq "naersk follows our nixpkgs" lock.nodes.naersk.inputs.nixpkgs [ "nixpkgs" ])
  ];
in
h.run "wiring" (
  concatMap (if naersk then naerskArgCases else sharedArgCases) builds
  ++ concatMap imageCases builds
  ++ concatMap toolchainCases builds
  ++ concatMap crossCases builds
  ++ concatMap perSystemCases attrs.systems
  ++ releaseCases
  ++ dirtyCases
  ++ lockCases
)
