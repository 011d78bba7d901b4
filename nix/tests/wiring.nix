# The flake itself (flake.nix -> nix/outputs.nix and everything it calls) evaluated against
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
  toolchainFile = (builtins.fromTOML (builtins.readFile ../../rust-toolchain.toml)).toolchain;
  rustOverlay = import ./stand-ins/rust-overlay.nix;
  lock = builtins.fromJSON (builtins.readFile ../../flake.lock);

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
      shared = filter (n: a ? ${n} && !elem n depsOnly) (attrNames d);
      differing = filter (n: h.show d.${n} != h.show a.${n}) shared;
      missingInApp = filter (n: !(a ? ${n}) && !elem n depsOnly) (attrNames d);
      extraInApp = filter (n: !(d ? ${n}) && !elem n appOnly) (attrNames a);
    in
    [
      (h.that "${b.label}: deps and package get identical shared arguments" (differing == [ ])
        "differ in ${h.show differing}"
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

  imageCases =
    b:
    let
      s = b.image.standin;
      arch = attrs.arch.${b.platform};
      labels = s.config.Labels or { };
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
      (h.eq "${b.label}: port" (attrNames (s.config.ExposedPorts or { })) [ "8080/tcp" ])
      # Only text files besides the entrypoint's closure: no toolchain, no sources.
      (h.eq "${b.label}: contents are /etc/passwd and /etc/group only" (map (c: [
        c.standin.fn
        c.standin.args.path
      ]) s.contents) [
        [
          "writeTextDir"
          "etc/passwd"
        ]
        [
          "writeTextDir"
          "etc/group"
        ]
      ])
    ];

  toolchainCases =
    b:
    let
      t = b.app.standin.toolchain;
      ts = if t == null then { } else t.standin;
    in
    [
      (h.that "${b.label}: built with the rust-overlay toolchain, not nixpkgs' rustc" (t != null) "no toolchain override")
      (h.eq "${b.label}: the toolchain rust-toolchain.toml names" [ (ts.channel or null) (ts.profile or null) (ts.components or null) ] [
        toolchainFile.channel
        toolchainFile.profile
        toolchainFile.components
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
  releaseDeps = system: (packagesOf system).deps-release.outPath;

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
      (h.eq "${system}: ship is built on the release deps" p.ship.standin.cargoArtifacts (releaseDeps system))
      (h.eq "${system}: ship builds the ship binary" [ (p.ship.standin.args.cargoBuildExtraArgs or null) (p.ship.standin.args.pname or null) ] [
        "--bin ship"
        "ship"
      ])
      (h.that "${system}: ship does not change with every commit" (!(p.ship.standin.args ? SHIP_GIT_REV)) "ship has SHIP_GIT_REV")
      (h.eq "${system}: the checks' deps build on the dev deps" p.deps-checks.standin.cargoArtifacts (devDeps system))
      (h.eq "${system}: the checks' deps run the check pass and the test build, nothing else" p.deps-checks.standin.cargoCommands [
        "cargoWithProfile check --locked --workspace --all-targets"
        "cargoWithProfile test --locked --workspace --no-run"
      ])
      (h.eq "${system}: the checks' deps build from crane's dummy source of the same src" [
        (p.deps-checks.standin.args.src.standin.fn or null)
        (h.show (p.deps-checks.standin.args.src.standin.args.src or null))
      ] [ "crane.mkDummySrc" (h.show (p.deps-dev.standin.args.src or null)) ])
      (h.eq "${system}: the checks' deps share the dev deps' profile" (p.deps-checks.standin.args.CARGO_PROFILE or null) "dev")
      (h.that "${system}: the only check pass is the checks' deps'" (
        let
          all = builtins.attrValues p ++ builtins.attrValues c;
          checking = filter (x: builtins.any (cmd: u.hasPrefix "cargoWithProfile check " cmd) (x.standin.cargoCommands or [ ])) all;
        in
        map (x: x.outPath) checking == [ p.deps-checks.outPath ]
      ) "another derivation runs `cargo check`")
      (h.that "${system}: only what something builds on installs its cargo artifacts" (
        let
          all = builtins.attrValues p ++ builtins.attrValues c;
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
      (h.eq "${system}: tests select only sandbox-safe targets" (c.tests.standin.args.cargoTestExtraArgs or null) "--lib --bins --test http --test plan_cli")
      (h.eq "${system}: clippy and tests share the dev deps' arguments" [
        (c.clippy.standin.args.CARGO_PROFILE or null)
        (c.tests.standin.args.CARGO_PROFILE or null)
        (h.show (c.tests.standin.args.src or null))
      ] [ "dev" "dev" (h.show (p.deps-dev.standin.args.src or null)) ])
      (h.eq "${system}: the image check is the dev image" c.image-dev.outPath p.image-dev.outPath)
      (h.eq "${system}: fmt is crane's cargoFmt" c.fmt.standin.fn "crane.cargoFmt")
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
    (h.eq "a dirty tree builds with SHIP_GIT_REV = dirty" (dirty.packages.x86_64-linux.app-release.standin.args.SHIP_GIT_REV or null) "dirty")
    (h.eq "a new commit leaves the deps alone" dirty.packages.x86_64-linux.deps-release.outPath flake.packages.x86_64-linux.deps-release.outPath)
    (h.eq "a new commit leaves the checks' deps alone" dirty.packages.x86_64-linux.deps-checks.outPath flake.packages.x86_64-linux.deps-checks.outPath)
    (h.that "a new commit rebuilds the package" (
      dirty.packages.x86_64-linux.app-release.outPath != flake.packages.x86_64-linux.app-release.outPath
    ) "same outPath")
  ];

  lockCases = [
    (h.eq "the rust-overlay stand-in models the locked revision" rustOverlay.rev lock.nodes.rust-overlay.locked.rev)
    (h.that "rust-overlay at that revision knows the pinned Rust" (elem toolchainFile.channel rustOverlay.stableVersions) toolchainFile.channel)
    (h.eq "the lock's inputs are the flake's" (attrNames lock.nodes.root.inputs) (attrNames (import ../../flake.nix).inputs))
    (h.eq "rust-overlay follows our nixpkgs" lock.nodes.rust-overlay.inputs.nixpkgs [ "nixpkgs" ])
  ];
in
h.run "wiring" (
  concatMap sharedArgCases builds
  ++ concatMap imageCases builds
  ++ concatMap toolchainCases builds
  ++ concatMap crossCases builds
  ++ concatMap perSystemCases attrs.systems
  ++ releaseCases
  ++ dirtyCases
  ++ lockCases
)
