# The stand-ins themselves: each accepts a correct call and refuses a misspelt or discarded
# argument, so the wiring tests built on them can fail. (crates/ship/tests/nix_wiring.rs also
# misspells arguments in a copy of the real nix/ files and checks the message names them.)
let
  h = import ./harness.nix;
  inputs = import ./stand-ins {
    envVars = [ "SHIP_GIT_REV" ];
    rev = "f00d";
  };
  overlays = [ inputs.rust-overlay.overlays.default ];
  pkgs = import inputs.nixpkgs {
    localSystem = "x86_64-linux";
    inherit overlays;
  };
  pkgsArm64 = import inputs.nixpkgs {
    localSystem = "x86_64-linux";
    crossSystem = "aarch64-linux";
    inherit overlays;
  };
  craneLib = (inputs.crane.mkLib pkgs).overrideToolchain (
    p: p.rust-bin.fromRustupToolchainFile ../../rust-toolchain.toml
  );
  src = craneLib.cleanCargoSource ../..;
  deps = craneLib.buildDepsOnly { inherit src; };
  app = craneLib.buildPackage {
    inherit src;
    cargoArtifacts = deps;
  };
  image = p: args: p.dockerTools.streamLayeredImage ({ name = "x"; } // args);

  naersk = pkgs.callPackage inputs.naersk { };
  naerskApp =
    args:
    naersk.buildPackage (
      {
        inherit src;
        overrideMain = old: {
          cargo_build_options = old.cargo_build_options ++ [ "--bin" "x" ];
          SHIP_GIT_REV = "f00d";
        };
      }
      // args
    );
  naerskDeps = args: builtins.head (naerskApp args).passthru.builtDependencies;
in
h.run "stand-ins" [
  # crane's default deps commands (lib/buildDepsOnly.nix): check with --all-targets (doCheck
  # defaults to true), build, and test --no-run in the check phase.
  (h.eq "crane: buildDepsOnly runs crane's default commands" deps.standin.cargoCommands [
    "cargoWithProfile check --locked --all-targets"
    "cargoWithProfile build --locked"
    "cargoWithProfile test --locked --no-run"
  ])
  (h.eq "crane: buildPhaseCargoCommand replaces the check and build lines" (craneLib.buildDepsOnly {
    inherit src;
    doCheck = false;
    buildPhaseCargoCommand = "cargoWithProfile build --locked";
  }).standin.cargoCommands [ "cargoWithProfile build --locked" ])
  (h.fails "crane: mkCargoDerivation refuses cargoExtraArgs (not one of its options)" (
    craneLib.mkCargoDerivation {
      inherit src;
      cargoArtifacts = deps;
      buildPhaseCargoCommand = "cargoWithProfile check";
      cargoExtraArgs = "--locked";
    }
  ))
  (h.fails "crane: mkCargoDerivation requires buildPhaseCargoCommand" (craneLib.mkCargoDerivation {
    inherit src;
    cargoArtifacts = deps;
  }))
  (h.eq "crane: cargoTest installs its artifacts unless told not to" [
    (craneLib.cargoTest { inherit src; cargoArtifacts = deps; }).standin.installsCargoArtifacts
    (craneLib.cargoTest { inherit src; cargoArtifacts = deps; doInstallCargoArtifacts = false; }).standin.installsCargoArtifacts
  ] [ true false ])
  (h.eq "crane: a correct buildPackage evaluates" app.standin.cargoArtifacts deps.outPath)
  (h.fails "crane: buildPackage refuses cargoArtifactsCross" (craneLib.buildPackage {
    inherit src;
    cargoArtifactsCross = deps;
  }))
  (h.fails "crane: buildPackage refuses a misspelt option" (craneLib.buildPackage {
    inherit src;
    cargoArtifacts = deps;
    cargoExtraArg = "--locked";
  }))
  (h.fails "crane: buildPackage refuses a misspelt CARGO_PROFILE" (craneLib.buildPackage {
    inherit src;
    cargoArtifacts = deps;
    CARGO_PROFLE = "dev";
  }))
  (h.eq "crane: env vars the project declares pass" (craneLib.buildPackage {
    inherit src;
    cargoArtifacts = deps;
    SHIP_GIT_REV = "x";
  }).standin.args.SHIP_GIT_REV "x")
  (h.fails "crane: buildDepsOnly refuses cargoArtifacts (it sets it to null)" (craneLib.buildDepsOnly {
    inherit src;
    cargoArtifacts = deps;
  }))
  (h.fails "crane: cargoClippy needs cargoArtifacts" (craneLib.cargoClippy { inherit src; }))
  (h.fails "crane: cargoArtifacts must hold cargo artifacts" (craneLib.cargoTest {
    inherit src;
    cargoArtifacts = app;
  }))
  (h.fails "crane: devShell refuses nativeBuildInputs (crane drops it)" (craneLib.devShell {
    nativeBuildInputs = [ ];
  }))
  (h.fails "crane: overrideToolchain wants a function" (
    ((inputs.crane.mkLib pkgs).overrideToolchain pkgs.git).buildDepsOnly { inherit src; }
  ))
  (h.eq "crane: CARGO_PROFILE defaults to release" deps.standin.profile "release")
  (h.eq "crane: a cross package set builds for aarch64" ((inputs.crane.mkLib pkgsArm64).buildDepsOnly {
    inherit src;
  }).standin.cargoBuildTarget "aarch64-unknown-linux-gnu")

  (h.eq "naersk: deps are `<name>-deps-<version>` from the root manifest" (naerskDeps { }).name "demo-service-deps-0.1.0")
  (h.eq "naersk: the package unpacks its deps" (naerskApp { }).standin.cargoArtifacts (naerskDeps { }).outPath)
  (h.eq "naersk: overrideMain reaches the package only" [
    (naerskApp { }).standin.attrs.cargo_build_options
    ((naerskDeps { }).standin.attrs.SHIP_GIT_REV or null)
  ] [
    [ "$cargo_release" ''-j "$NIX_BUILD_CORES"'' "--message-format=$cargo_message_format" "--bin" "x" ]
    null
  ])
  (h.eq "naersk: every other argument reaches the deps" (naerskDeps { doCheck = false; }).standin.attrs.doCheck false)
  (h.eq "naersk: release defaults to true" (naerskDeps { }).standin.attrs.cargo_release "--release")
  (h.eq "naersk: release = false is a debug build" (naerskDeps { release = false; }).standin.attrs.cargo_release "")
  (h.eq "naersk: cargoBuildOptions is a function of the defaults" (naerskDeps {
    cargoBuildOptions = o: o ++ [ "--locked" ];
  }).standin.attrs.cargo_build_options [ "$cargo_release" ''-j "$NIX_BUILD_CORES"'' "--message-format=$cargo_message_format" "--locked" ])
  (h.fails "naersk: cargoBuildOptions as a list" (naerskApp { cargoBuildOptions = [ "--locked" ]; }))
  (h.fails "naersk: refuses a misspelt option" (naerskApp { cargoBuildOption = o: o; }))
  (h.fails "naersk: refuses passthru (it would lose builtDependencies)" (naerskApp { passthru = { }; }))
  (h.fails "naersk: refuses the other triple's cross variables" (naerskApp { CC_aarch64_unknown_linux_gnu = "cc"; }))
  (h.eq "naersk: env reaches both derivations" (map (d: d.standin.attrs.env) [
    (naerskApp { env.SQLX_OFFLINE = "true"; })
    (naerskDeps { env.SQLX_OFFLINE = "true"; })
  ]) [ { SQLX_OFFLINE = "true"; } { SQLX_OFFLINE = "true"; } ])
  (h.fails "naersk: refuses an env entry that is also a derivation attribute" (naerskApp { env.RUSTC = "rustc"; }))
  (h.fails "naersk: refuses an env entry overlapping an attribute overrideMain sets" (naerskApp { env.SHIP_GIT_REV = "x"; }))
  (h.fails "naersk: refuses a non-string env value" (naerskApp { env.X = [ ]; }))
  (h.eq "naersk: the caller's build inputs in both derivations" (map (d: map (x: x.name) (d.standin.attrs.nativeBuildInputs ++ d.standin.attrs.buildInputs)) [
    (naerskApp { nativeBuildInputs = [ pkgs.pkg-config ]; buildInputs = [ pkgs.openssl ]; })
    (naerskDeps { nativeBuildInputs = [ pkgs.pkg-config ]; buildInputs = [ pkgs.openssl ]; })
  ]) [ [ "pkg-config" "openssl" ] [ "pkg-config" "openssl" ] ])
  (h.eq "naersk: the cross variables of the host platform pass" ((pkgsArm64.callPackage inputs.naersk { }).buildPackage {
    inherit src;
    CARGO_BUILD_TARGET = "aarch64-unknown-linux-gnu";
    CC_aarch64_unknown_linux_gnu = "aarch64-unknown-linux-gnu-cc";
  }).standin.cargoBuildTarget "aarch64-unknown-linux-gnu")

  (h.eq "dockerTools: default architecture native" (image pkgs { }).standin.architecture "amd64")
  (h.eq "dockerTools: default architecture cross" (image pkgsArm64 { }).standin.architecture "arm64")
  (h.fails "dockerTools: refuses a misspelt architecture" (image pkgs { architecure = "arm64"; }))
  (h.fails "dockerTools: refuses maxLayers 1" (image pkgs { maxLayers = 1; }))

  (h.fails "writeShellApplication: refuses runtimeInput" (pkgs.writeShellApplication {
    name = "x";
    text = "";
    runtimeInput = [ ];
  }))
  (h.fails "nixpkgs: refuses crossSytem" (import inputs.nixpkgs {
    localSystem = "x86_64-linux";
    crossSytem = "aarch64-linux";
  }))

  (h.fails "rust-overlay: a Rust it has no manifest for" (pkgs.rust-bin.fromRustupToolchain {
    channel = "1.99.0";
  }))
  (h.fails "rust-overlay: unknown component" (pkgs.rust-bin.fromRustupToolchain {
    channel = "1.95.0";
    components = [ "clipy" ];
  }))
  (h.eq "rust-overlay: cross toolchain carries aarch64's std"
    (pkgsArm64.pkgsBuildHost.rust-bin.fromRustupToolchain { channel = "1.95.0"; }).standin.targets
    [ "x86_64-unknown-linux-gnu" "aarch64-unknown-linux-gnu" ]
  )

  (h.fails "lib.fileset: a missing file" (pkgs.lib.fileset.toSource {
    root = ../..;
    fileset = ../../no-such-file;
  }))
  (h.fails "lib.fileset: root must be a path" (pkgs.lib.fileset.toSource {
    root = toString ../..;
    fileset = ../../Cargo.toml;
  }))
]
