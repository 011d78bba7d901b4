//! The flake's crane/dockerTools wiring, evaluated with Nix 2.8 against stand-ins of its inputs
//! (nix/tests/stand-ins: crane, nixpkgs, rust-overlay with the real functions' argument sets):
//! its `nix flake show` structure matches `ship`'s naming, deps and package share their
//! arguments, each image runs its own build's binary, arm64 comes from the cross build, and a
//! misspelt argument or a misplaced one in the real nix/ files makes evaluation fail.
//!
//! Needs `nix-instantiate` (Debian nix-bin); `--store dummy://`, no network.

use ship_test_support as support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use ship::platform::Platform;

const SYSTEMS: [&str; 2] = ["x86_64-linux", "aarch64-linux"];

/// `nix-instantiate --eval --strict --json FILE`: the JSON, or the error text.
fn eval_file(file: &Path) -> Result<Value, String> {
    support::output_json(
        support::nix_instantiate()
            .args(["--eval", "--strict", "--json"])
            .arg(file),
    )
}

/// The flake as `nix flake show` would list it, and its builds' arguments (nix/tests/show.nix).
fn show() -> Value {
    eval_file(&support::repo().join("nix/tests/show.nix"))
        .unwrap_or_else(|e| panic!("nix/tests/show.nix: {e}"))
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("a list of names")
        .iter()
        .map(|n| n.as_str().expect("name").to_owned())
        .collect()
}

/// Every build (system, attribute names, platform, cross) the flake must have for the repo's
/// configuration, by `ship::plan::attrs`, the naming `ship plan` uses.
fn expected_builds() -> Vec<(String, [String; 3], Platform, bool)> {
    builds_for(&support::repo().join("Cargo.toml"))
}

/// `expected_builds` for the workspace of `manifest`.
fn builds_for(manifest: &Path) -> Vec<(String, [String; 3], Platform, bool)> {
    let config =
        ship::config::load(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let profiles: BTreeSet<String> = config
        .variants
        .values()
        .map(|v| v.profile.clone())
        .collect();
    let mut builds = Vec::new();
    for profile in &profiles {
        for (platform, cross) in [
            (Platform::Amd64, false),
            (Platform::Arm64, false),
            (Platform::Arm64, true),
        ] {
            let (system, names) = ship::plan::attrs(profile, platform, cross);
            builds.push((
                system,
                [names.image, names.app, names.deps],
                platform,
                cross,
            ));
        }
    }
    builds
}

/// The packages, per system, the flake must have for the workspace of `manifest`.
fn expected_packages(manifest: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut expected: BTreeMap<String, BTreeSet<String>> = SYSTEMS
        .iter()
        .map(|s| {
            (
                (*s).to_owned(),
                // deps-checks: the checks' deps (nix/lib/attrs.nix checksDeps); no release
                // builds it, so ship does not name it.
                ["default", "ship", "deps-checks"]
                    .iter()
                    .map(|n| (*n).to_owned())
                    .collect(),
            )
        })
        .collect();
    for (system, attrs, _, _) in builds_for(manifest) {
        expected
            .get_mut(&system)
            .unwrap_or_else(|| panic!("ship names a system the flake lacks: {system}"))
            .extend(attrs);
    }
    expected
}

#[test]
fn flake_structure_matches_ship_naming() {
    let show = show();
    let expected = expected_packages(&support::repo().join("Cargo.toml"));
    for system in SYSTEMS {
        assert_eq!(
            names(&show["packages"][system]),
            expected[system],
            "packages.{system}: left the flake, right ship::plan::attrs"
        );
        assert_eq!(
            names(&show["apps"][system]),
            BTreeSet::from(["release".to_owned(), "ship".to_owned()]),
            "apps.{system}"
        );
        assert_eq!(
            names(&show["checks"][system]),
            ["clippy", "fmt", "image-dev", "nix-tests", "tests"]
                .iter()
                .map(|n| (*n).to_owned())
                .collect(),
            "checks.{system}"
        );
        assert_eq!(
            names(&show["devShells"][system]),
            BTreeSet::from(["default".to_owned()])
        );
        assert_eq!(show["formatter"][system], "nixfmt-tree");
    }

    // What `ship plan` sends each runner to build exists under that runner's system.
    let manifest = support::repo().join("Cargo.toml");
    let config = ship::config::load(&manifest).expect("repo configuration");
    for variant in config.variants.keys() {
        let out = support::ship()
            .arg("plan")
            .arg("--manifest")
            .arg(&manifest)
            .args(["--format", "json", "--variant", variant])
            .output()
            .expect("run ship");
        assert!(out.status.success(), "ship plan --variant {variant}");
        let plan: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
        for entry in plan["matrix"]["include"].as_array().expect("include") {
            let system = entry["system"].as_str().expect("system");
            for key in ["attr", "app", "deps"] {
                let attr = entry[key].as_str().expect("attribute");
                assert!(
                    names(&show["packages"][system]).contains(attr),
                    "ship plan --variant {variant} builds .#{attr} on {system}, which the flake lacks"
                );
            }
        }
    }
}

#[test]
fn deps_and_package_share_their_arguments_and_the_revision_stays_out_of_deps() {
    let show = show();
    let rev = show["rev"].as_str().expect("rev");
    // What only a package has, and the deps' own doCheck (it caches the test builds).
    let package_only = [
        "cargoArtifacts",
        "cargoBuildExtraArgs",
        "SHIP_GIT_REV",
        "meta",
        "pname",
        "version",
    ];
    let mut checked = 0;
    for (system, [_, app, deps], _, _) in expected_builds() {
        let b = &show["builds"][&system];
        let deps_args = b[&deps]["args"].as_object().expect("deps args");
        let app_args = b[&app]["args"].as_object().expect("app args");
        let ctx = format!("{system}: {deps} / {app}");
        assert_eq!(b[&deps]["fn"], "crane.buildDepsOnly", "{ctx}");
        assert_eq!(b[&app]["fn"], "crane.buildPackage", "{ctx}");
        for (key, value) in deps_args {
            // This repository's `include` (ship init's templates) is in the packages' source
            // only; nix/tests/wiring.nix checks what each source keeps.
            if key == "doCheck" || key == "buildPhaseCargoCommand" || key == "src" {
                continue;
            }
            assert_eq!(
                app_args.get(key),
                Some(value),
                "{ctx}: shared argument {key} differs"
            );
        }
        for key in app_args.keys() {
            assert!(
                deps_args.contains_key(key) || package_only.contains(&key.as_str()),
                "{ctx}: {key} is given to the package but not to the deps"
            );
        }
        assert_eq!(
            b[&app]["cargoArtifacts"], b[&deps]["path"],
            "{ctx}: cargoArtifacts is the deps derivation"
        );
        assert_eq!(
            app_args["SHIP_GIT_REV"], rev,
            "{ctx}: revision in the package"
        );
        assert!(
            !deps_args.contains_key("SHIP_GIT_REV"),
            "{ctx}: the revision must stay out of the deps derivation"
        );
        checked += 1;
    }
    assert_eq!(checked, expected_builds().len());
    for system in SYSTEMS {
        let ship = &show["builds"][system]["ship"];
        assert!(
            ship["args"].get("SHIP_GIT_REV").is_none(),
            "{system}: ship would rebuild on every commit"
        );
        // Its own deps (nix/ship.nix), none of the workspace's packages.
        let packages = show["builds"][system].as_object().expect("builds");
        assert!(
            ship["cargoArtifacts"].is_string()
                && packages
                    .values()
                    .all(|p| p.get("path") != Some(&ship["cargoArtifacts"])),
            "{system}: ship builds on the workspace's deps {}",
            ship["cargoArtifacts"]
        );
    }
}

/// The cargo passes crane runs for each derivation (nix/tests/stand-ins/crane.nix composes
/// them as crane v0.23.4 does) and which derivations install their target directory.
#[test]
fn only_the_checks_deps_run_a_check_pass_and_only_deps_install_artifacts() {
    let show = show();
    let config =
        ship::config::load(&support::repo().join("Cargo.toml")).expect("repo configuration");
    for (system, [_, app, deps], _, _) in expected_builds() {
        let b = &show["builds"][&system];
        assert_eq!(
            b[&deps]["cargoCommands"],
            serde_json::json!(["cargoWithProfile build --locked --workspace"]),
            "{system}.{deps}: `cargo build` only"
        );
        assert_eq!(b[&deps]["installsCargoArtifacts"], true, "{system}.{deps}");
        assert_eq!(
            b[&app]["cargoCommands"],
            serde_json::json!([format!(
                "cargoWithProfile build --message-format json-render-diagnostics --locked --workspace --bin {}",
                config.binary
            )]),
            "{system}.{app}"
        );
        assert_eq!(b[&app]["installsCargoArtifacts"], false, "{system}.{app}");
    }
    for system in SYSTEMS {
        let b = &show["builds"][system];
        let checks_deps = &b["deps-checks"];
        assert_eq!(checks_deps["fn"], "crane.mkCargoDerivation", "{system}");
        assert_eq!(
            checks_deps["cargoCommands"],
            serde_json::json!([
                "cargoWithProfile check --locked --workspace --all-targets",
                "cargoWithProfile test --locked --workspace --no-run"
            ]),
            "{system}: deps-checks"
        );
        assert_eq!(
            checks_deps["cargoArtifacts"], b["deps-dev"]["path"],
            "{system}: deps-checks builds on deps-dev"
        );
        assert_eq!(checks_deps["installsCargoArtifacts"], true, "{system}");
        // Every other crane derivation: no check pass; installs artifacts only if read.
        let checks = &show["checkBuilds"][system];
        let everything: Vec<(&String, &Value)> = b
            .as_object()
            .expect("builds")
            .iter()
            .chain(checks.as_object().expect("checkBuilds"))
            .collect();
        let read: BTreeSet<&str> = everything
            .iter()
            .filter_map(|(_, d)| d["cargoArtifacts"].as_str())
            .collect();
        for (name, d) in ["clippy", "tests"].map(|n| (n, &checks[n])) {
            assert_eq!(
                d["cargoArtifacts"], checks_deps["path"],
                "{system}: checks.{name} builds on deps-checks"
            );
            assert_eq!(
                d["installsCargoArtifacts"], false,
                "{system}: checks.{name}"
            );
        }
        for (name, d) in everything {
            let commands = d["cargoCommands"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            if name != "deps-checks" {
                assert!(
                    !commands
                        .iter()
                        .any(|c| c.as_str().is_some_and(|c| c.contains(" check "))),
                    "{system}.{name} runs a check pass: {commands:?}"
                );
            }
            if d["installsCargoArtifacts"] == true {
                let path = d["path"].as_str().expect("path");
                assert!(
                    read.contains(path),
                    "{system}.{name} installs artifacts nothing builds on"
                );
            }
        }
    }
}

#[test]
fn each_image_runs_its_own_build_and_arm64_is_cross_compiled() {
    let show = show();
    let config =
        ship::config::load(&support::repo().join("Cargo.toml")).expect("repo configuration");
    for (system, [image, app, _], platform, cross) in expected_builds() {
        let b = &show["builds"][&system];
        let ctx = format!("{system}.{image}");
        let app_path = b[&app]["path"].as_str().expect("app path");
        assert_eq!(
            b[&image]["config"]["Entrypoint"],
            serde_json::json!([format!("{app_path}/bin/{}", config.binary)]),
            "{ctx}: entrypoint"
        );
        assert_eq!(b[&image]["architecture"], platform.arch(), "{ctx}");
        assert_eq!(
            b[&image]["host"],
            platform.native_system(),
            "{ctx}: dockerTools of the image's platform"
        );
        assert_eq!(b[&app]["host"], platform.native_system(), "{ctx}: binary");
        if cross {
            assert_eq!(b[&app]["build"], "x86_64-linux", "{ctx}: built on amd64");
            assert_eq!(
                b[&app]["cargoBuildTarget"], "aarch64-unknown-linux-gnu",
                "{ctx}: cross-compiled"
            );
        } else {
            assert_eq!(b[&app]["build"], system, "{ctx}: built natively");
            assert!(b[&app]["cargoBuildTarget"].is_null(), "{ctx}");
        }
        let user = b[&image]["config"]["User"].as_str().expect("User");
        assert!(
            !user.starts_with('0') && !user.starts_with("root"),
            "{ctx}: runs as {user}"
        );
    }
}

#[test]
fn a_misspelt_argument_is_named_by_the_stand_in() {
    let expr = format!(
        r#"let
             inputs = import {standins} {{ envVars = [ ]; rev = null; }};
             pkgs = import inputs.nixpkgs {{ localSystem = "x86_64-linux"; }};
             craneLib = inputs.crane.mkLib pkgs;
             src = craneLib.cleanCargoSource {root};
             deps = craneLib.buildDepsOnly {{ inherit src; }};
           in (craneLib.buildPackage {{ inherit src; cargoArtifactsCross = deps; }}).outPath"#,
        standins = support::repo().join("nix/tests/stand-ins").display(),
        root = support::repo().display(),
    );
    let out = support::nix_instantiate()
        .args(["--eval", "--strict", "-E", &expr])
        .output()
        .expect("run nix-instantiate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the misspelling was accepted");
    assert!(
        stderr.contains("unknown argument `cargoArtifactsCross`")
            && stderr.contains("accepted: ")
            && stderr.contains("cargoArtifacts,"),
        "the error names the argument and the accepted ones: {stderr}"
    );
}

/// The files the flake's evaluation reads, copied so they can be broken on purpose.
fn copy_of_the_flake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = support::repo();
    for file in [
        "flake.nix",
        "flake.lock",
        "Cargo.toml",
        "rust-toolchain.toml",
        "Cargo.lock",
        "crates/ship/Cargo.toml",
        "crates/ship-test-support/Cargo.toml",
        "tests/http.rs",
        "crates/ship/tests/plan_cli.rs",
    ] {
        let target = dir.path().join(file);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(root.join(file), &target).expect("copy");
    }
    support::copy_dir(&root.join("nix"), &dir.path().join("nix"));
    // ship's own source (nix/ship.nix hashes it as a store path would).
    for src in ["crates/ship/src", "crates/ship-test-support/src"] {
        support::copy_dir(&root.join(src), &dir.path().join(src));
    }
    // The demo: in the evaluation only as what must stay out of ship's source.
    for demo in ["configuration", "src"] {
        support::copy_dir(&root.join(demo), &dir.path().join(demo));
    }
    support::copy_dir(
        &root.join("crates/ship/tests/fixtures"),
        &dir.path().join("crates/ship/tests/fixtures"),
    );
    dir
}

/// Mistakes in the real nix/ files: (file, text, replacement, what the failure must say).
const WIRING_MISTAKES: &[(&str, &str, &str, &str)] = &[
        (
            "nix/crate.nix",
            "      inherit cargoArtifacts;\n      # Only `cargo build` gets it",
            "      cargoArtifactsCross = cargoArtifacts;\n      # Only `cargo build` gets it",
            "unknown argument `cargoArtifactsCross`",
        ),
        (
            "nix/crate.nix",
            "    CARGO_PROFILE = profile;\n",
            "    CARGO_PROFILE = profile;\n    SHIP_GIT_REV = rev;\n",
            "the git revision stays out of the deps",
        ),
        (
            "nix/crate.nix",
            "      cargoBuildExtraArgs = builtins.concatStringsSep",
            "      cargoExtraArgs = \"--locked --package ${binary}\";\n      cargoBuildExtraArgs = builtins.concatStringsSep",
            "deps and package get identical shared arguments",
        ),
        (
            "nix/image.nix",
            "    tag\n    architecture\n    created\n    ;\n",
            "    tag\n    created\n    ;\n  architecure = spec.architecture;\n",
            "unknown argument `architecure`",
        ),
        (
            "nix/per-system.nix",
            "withImage pkgsArm64 \"linux/arm64\"",
            "withImage pkgs \"linux/arm64\"",
            "dockerTools of the image's platform",
        ),
        (
            "nix/per-system.nix",
            "        app = builds.app;\n",
            "        app = native.${profile}.app;\n",
            "entrypoint is this build's binary",
        ),
        (
            "nix/per-system.nix",
            "    crossSystem = \"aarch64-linux\";\n",
            "    crossSytem = \"aarch64-linux\";\n",
            "unknown argument `crossSytem`",
        ),
        (
            "nix/per-system.nix",
            "  craneLib = craneLibFor pkgs;\n",
            "  craneLib = crane.mkLib pkgs;\n",
            "built with the rust-overlay toolchain",
        ),
        (
            "nix/per-system.nix",
            "  checks = import ./checks.nix {\n",
            "  checks = pkgs.callPackage ./checks.nix {\n",
            "overrideDerivation",
        ),
        (
            "nix/checks.nix",
            "      cargoArtifacts = builds.checkDeps;\n      doInstallCargoArtifacts = false;\n      cargoTestExtraArgs",
            "      cargoArtifacts = builds.app;\n      doInstallCargoArtifacts = false;\n      cargoTestExtraArgs",
            "cargoArtifacts is not a derivation holding cargo artifacts",
        ),
        // crane's default deps commands: a `cargo check` pass nothing reads.
        (
            "nix/crate.nix",
            "      buildPhaseCargoCommand = \"cargoWithProfile build ${commonArgs.cargoExtraArgs}\";\n",
            "",
            "the image's deps run `cargo build` only",
        ),
        // The image's deps caching the test builds again (crane's doCheck default).
        (
            "nix/crate.nix",
            "      doCheck = false;\n    }\n  );\n\n  # The checks' dependency",
            "    }\n  );\n\n  # The checks' dependency",
            "the image's deps run `cargo build` only",
        ),
        // A leaf installing its target directory (crane's cargoTest default).
        (
            "nix/checks.nix",
            "      cargoArtifacts = builds.checkDeps;\n      doInstallCargoArtifacts = false;\n      cargoTestExtraArgs",
            "      cargoArtifacts = builds.checkDeps;\n      cargoTestExtraArgs",
            "only what something builds on installs its cargo artifacts",
        ),
        // clippy on the image's deps: it would redo the check pass itself.
        (
            "nix/checks.nix",
            "      cargoArtifacts = builds.checkDeps;\n      cargoClippyExtraArgs",
            "      cargoArtifacts = builds.deps;\n      cargoClippyExtraArgs",
            "clippy reuses the checks' deps",
        ),
        // The checks' deps without the build's inputs and env (an adopter's `-sys` crate).
        (
            "nix/crate.nix",
            "    builtins.removeAttrs commonArgs [ \"cargoExtraArgs\" ]\n",
            "    builtins.removeAttrs commonArgs [ \"cargoExtraArgs\" \"nativeBuildInputs\" \"buildInputs\" \"env\" ]\n",
            "the checks' deps get the builds' inputs and env",
        ),
        // Build inputs in the wrong splice, for the cross build of an adopter's workspace.
        (
            "nix/crate.nix",
            "map (lookup pkgsHostTarget build.keys.buildInputs)",
            "map (lookup pkgsBuildHost build.keys.buildInputs)",
            "build inputs are for the platform the binary runs on",
        ),
        (
            "nix/crate.nix",
            "map (lookup pkgsBuildHost build.keys.nativeBuildInputs)",
            "map (lookup pkgsHostTarget build.keys.nativeBuildInputs)",
            "native build inputs run on the build machine",
        ),
        (
            "nix/checks.nix",
            "cargoTestExtraArgs = testArgs;",
            "cargoTestExtraArgs = \"--lib --bins --test http --test plan_cli\";",
            "tests run exactly the tests key's selection",
        ),
        (
            "nix/rust.nix",
            "p'.rust-bin.fromRustupToolchainFile toolchain.file",
            "p'.rust-bin.fromRustupToolchainFile ../rust-toolchain.toml",
            "built with 1.90.0",
        ),
        (
            "nix/image.nix",
            "    // spec.env;",
            "    ;",
            "env from the configuration",
        ),
        (
            "nix/per-system.nix",
            "filter = path: _type: !(",
            "filter = path: _type: true || !(",
            "runtime files stay out of the cargo source",
        ),
        (
            "nix/checks.nix",
            "nativeBuildInputs = commonArgs.nativeBuildInputs ++ testInputs;",
            "nativeBuildInputs = testInputs;",
            "the tests also the tests key's tools",
        ),
        // packages.ship (nix/ship.nix): its own deps, from ship's files only.
        (
            "nix/ship.nix",
            "    inherit cargoArtifacts;\n",
            "    cargoArtifactsCross = cargoArtifacts;\n",
            "unknown argument `cargoArtifactsCross`",
        ),
        (
            "nix/ship.nix",
            "    cargoExtraArgs = \"--locked --package ship\";\n",
            "    cargoExtraArgs = \"--locked --workspace\";\n",
            "ship's deps run `cargo build` of ship only",
        ),
        (
            "nix/ship.nix",
            "      (shipRoot + \"/Cargo.lock\")\n",
            "      (shipRoot + \"/Cargo.lock\")\n      (shipRoot + \"/src\")\n",
            "ship's source is ship's manifests and sources, not the demo's",
        ),
        // Unknown nixpkgs attributes and a missing file, named with the key they came from.
        (
            "crates/ship/tests/fixtures/adopt-database/Cargo.toml",
            "build-inputs = [\"openssl\"]",
            "build-inputs = [\"openssll\"]",
            "[workspace.metadata.ship] build.build-inputs: `openssll` is not an attribute of nixpkgs",
        ),
        (
            "crates/ship/tests/fixtures/adopt-database/Cargo.toml",
            "packages = [\"cacert\", \"tzdata\"]",
            "packages = [\"cacert\", \"tz-data\"]",
            "[workspace.metadata.ship] runtime.packages: `tz-data` is not an attribute of nixpkgs",
        ),
        (
            "crates/ship/tests/fixtures/adopt-database/Cargo.toml",
            "files = { configuration = ",
            "files = { config = ",
            "[workspace.metadata.ship] runtime.files.config: `config` does not exist in the workspace",
        ),
        // A test target the workspace does not have.
        (
            "crates/ship/tests/fixtures/adopt-toolchain-key/Cargo.toml",
            "targets = [\"lib\", \"test:api\"]",
            "targets = [\"lib\", \"test:apis\"]",
            "[workspace.metadata.ship] tests.targets[1]: no test target `apis` in the workspace",
        ),
        // Two toolchains named: refused rather than one silently ignored.
        (
            "crates/ship/tests/fixtures/adopt-database/Cargo.toml",
            "[workspace.metadata.ship]\ninclude = ",
            "[workspace.metadata.ship]\ntoolchain = \"1.94.0\"\ninclude = ",
            "[workspace.metadata.ship] toolchain: `1.94.0` given, but rust-toolchain.toml names the toolchain too",
        ),
        // `include` reaches the deps derivations: a change to a migration would rebuild them.
        (
            "nix/crate.nix",
            "  depsArgs = commonArgs // {\n    src = cargoSrc;\n  };\n",
            "  depsArgs = commonArgs;\n",
            // This repository's own `include` (ship init's templates) catches it first.
            "an `include` file is in the package's source, not the deps'",
        ),
        // `include` never reaches the packages: sqlx's offline data missing, the build fails.
        (
            "nix/per-system.nix",
            "    if config.include == [ ] then\n",
            "    if true then\n",
            "an `include` file is in the package's source, not the deps'",
        ),
];

#[test]
fn mistakes_in_the_real_wiring_fail_the_nix_tests() {
    // The unbroken copy passes, so each failure below is the mistake's.
    let control = copy_of_the_flake();
    if let Err(e) = eval_file(&control.path().join("nix/tests")) {
        panic!("the copied flake should pass nix/tests: {e}");
    }

    for (file, text, replacement, needle) in WIRING_MISTAKES {
        let copy = copy_of_the_flake();
        let path = copy.path().join(file);
        let source = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            source.matches(text).count(),
            1,
            "{file} must contain `{text}` exactly once for this mistake to be made"
        );
        std::fs::write(&path, source.replace(text, replacement)).expect("write");
        match eval_file(&copy.path().join("nix/tests")) {
            Ok(_) => panic!("{file}: `{replacement}` went unnoticed by nix/tests"),
            Err(e) => assert!(
                e.contains(needle),
                "{file}: `{replacement}` failed, but not with `{needle}`:\n{e}"
            ),
        }
    }
}

#[test]
fn flake_lock_pins_real_revisions_of_the_three_inputs() {
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(support::repo().join("flake.lock")).expect("read flake.lock"),
    )
    .expect("flake.lock is JSON");
    assert_eq!(lock["version"], 7);
    let root = &lock["nodes"]["root"]["inputs"];
    assert_eq!(
        root.as_object()
            .expect("root inputs")
            .keys()
            .collect::<Vec<_>>(),
        ["crane", "naersk", "nixpkgs", "rust-overlay"]
    );
    for (input, owner, repo_name) in [
        ("nixpkgs", "NixOS", "nixpkgs"),
        ("crane", "ipetkov", "crane"),
        ("rust-overlay", "oxalica", "rust-overlay"),
        ("naersk", "nix-community", "naersk"),
    ] {
        let locked = &lock["nodes"][input]["locked"];
        assert_eq!(locked["type"], "github", "{input}");
        assert_eq!(locked["owner"], owner, "{input}");
        assert_eq!(locked["repo"], repo_name, "{input}");
        let rev = locked["rev"].as_str().expect("rev");
        assert!(
            rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()),
            "{input}: rev {rev}"
        );
        let nar = locked["narHash"].as_str().expect("narHash");
        let b64 = nar.strip_prefix("sha256-").expect("an SRI sha256 narHash");
        assert!(
            b64.len() == 44
                && b64.ends_with('=')
                && b64[..43]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/'),
            "{input}: narHash {nar}"
        );
        // After 2023-11 and not in the future of these pins' era.
        let modified = locked["lastModified"].as_u64().expect("lastModified");
        assert!(modified > 1_700_000_000, "{input}: lastModified {modified}");
    }
    let crane_ref = lock["nodes"]["crane"]["original"]["ref"]
        .as_str()
        .expect("crane is pinned by a ref");
    assert!(
        crane_ref.starts_with('v') && semver::Version::parse(&crane_ref[1..]).is_ok(),
        "crane must follow a release tag, not a branch: {crane_ref}"
    );
    let nixpkgs_ref = lock["nodes"]["nixpkgs"]["original"]["ref"]
        .as_str()
        .expect("nixpkgs ref");
    assert_eq!(
        nixpkgs_ref, "nixos-25.11",
        "crane >= 0.22 needs nixpkgs >= 25.11"
    );
    assert_eq!(
        lock["nodes"]["rust-overlay"]["inputs"]["nixpkgs"],
        serde_json::json!(["nixpkgs"]),
        "rust-overlay follows our nixpkgs"
    );
    assert_eq!(
        lock["nodes"]["naersk"]["inputs"]["nixpkgs"],
        serde_json::json!(["nixpkgs"]),
        "naersk follows our nixpkgs"
    );
    let naersk_rev = lock["nodes"]["naersk"]["locked"]["rev"]
        .as_str()
        .expect("naersk rev");
    let stand_in = std::fs::read_to_string(support::repo().join("nix/tests/stand-ins/naersk.nix"))
        .expect("read the naersk stand-in");
    assert!(
        stand_in.contains(naersk_rev),
        "the naersk stand-in must model the locked revision {naersk_rev}"
    );
}

/// What the naersk copy adds to the demo: build inputs of both kinds (so a wrong splice shows in
/// the arm64 cross build), build env at the top and per variant, and a runtime binary for the
/// release profile only.
const NAERSK_BUILD_SETTINGS: &str = "
[workspace.metadata.ship.build]
native-build-inputs = [\"pkg-config\", \"protobuf\"]
build-inputs = [\"openssl\"]
env = { SQLX_OFFLINE = \"true\" }

[workspace.metadata.ship.variants.production.build]
env = { PROTOC_NO_VENDOR = \"1\" }
";

/// The copied flake with the demo switched to `builder = "naersk"`, with
/// [`NAERSK_BUILD_SETTINGS`] and `runtime.binaries` for production.
fn copy_with_naersk() -> tempfile::TempDir {
    let copy = copy_of_the_flake();
    let manifest = copy.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read Cargo.toml");
    let table = "[workspace.metadata.ship]\n";
    let production = "[workspace.metadata.ship.variants.production.runtime]\n";
    for t in [table, production] {
        assert_eq!(text.matches(t).count(), 1, "one `{t}` table");
    }
    let text = text
        .replace(table, &format!("{table}builder = \"naersk\"\n"))
        .replace(production, &format!("{production}binaries = [\"ship\"]\n"));
    std::fs::write(&manifest, text + NAERSK_BUILD_SETTINGS).expect("write Cargo.toml");
    copy
}

fn plan_json(manifest: &Path, variant: &str) -> Value {
    support::ship_plan(manifest, &["--variant", variant])
        .unwrap_or_else(|e| panic!("ship plan {manifest:?} --variant {variant}: {e}"))
}

#[test]
fn the_demo_switched_to_naersk_keeps_names_matrix_and_wiring() {
    let copy = copy_with_naersk();
    // Every suite, the wiring's naersk cases included (both systems and the arm64 cross set).
    let suites = eval_file(&copy.path().join("nix/tests"))
        .unwrap_or_else(|e| panic!("nix/tests with builder = \"naersk\": {e}"));
    let cases = suites["wiring"]["cases"].as_array().expect("wiring cases");
    for needle in [
        "x86_64-linux.image-release: no --bin in the deps derivation",
        "aarch64-linux.image-release: no --bin in the deps derivation",
        "x86_64-linux.image-release-arm64: cargo's linker and the cc crate's tools are aarch64's",
        "x86_64-linux.image-release-arm64: cross build targets aarch64",
        "x86_64-linux.image-release-arm64: build inputs are for the platform the binary runs on",
        "x86_64-linux.image-release-arm64: native build inputs run on the build machine",
        "x86_64-linux.image-dev: the build env reaches deps and package",
        "aarch64-linux.image-release: the package also builds the runtime binaries",
        "x86_64-linux: the checks' deps build on crane's dev deps, not naersk's",
        "aarch64-linux: the only check pass is the checks' deps'",
        "aarch64-linux: only what something builds on installs its cargo artifacts",
        "x86_64-linux: tests reuse the checks' deps",
    ] {
        assert!(
            cases
                .iter()
                .any(|c| c.as_str().is_some_and(|c| c.starts_with(needle))),
            "the naersk wiring lacks the case `{needle}`"
        );
    }

    let naersk = eval_file(&copy.path().join("nix/tests/show.nix")).expect("show.nix (naersk)");
    let crane = show();
    for output in ["packages", "apps", "checks", "devShells"] {
        for system in SYSTEMS {
            assert_eq!(
                names(&naersk[output][system]),
                names(&crane[output][system]),
                "{output}.{system}: the same attribute names with either builder"
            );
        }
    }
    for (system, [_, app, deps], _, _) in expected_builds() {
        let b = &naersk["builds"][&system];
        assert_eq!(
            b[&deps]["fn"], "naersk.buildPackage.deps",
            "{system}.{deps}"
        );
        assert_eq!(b[&app]["fn"], "naersk.buildPackage", "{system}.{app}");
        assert_eq!(
            b[&app]["cargoArtifacts"], b[&deps]["path"],
            "{system}.{app} unpacks {deps}"
        );
    }

    let config =
        ship::config::load(&support::repo().join("Cargo.toml")).expect("repo configuration");
    for variant in config.variants.keys() {
        let with_crane = plan_json(&support::repo().join("Cargo.toml"), variant);
        let with_naersk = plan_json(&copy.path().join("Cargo.toml"), variant);
        assert_eq!(
            with_naersk["matrix"], with_crane["matrix"],
            "--variant {variant}: the same matrix with either builder"
        );
        assert_eq!(with_crane["builder"], "crane");
        assert_eq!(with_naersk["builder"], "naersk");
    }
}

/// One text replaced in a file: (text, replacement).
type Edit = (&'static str, &'static str);

/// Mistakes in the naersk wiring: (file, [(text, replacement)], what the failure must say).
const NAERSK_MISTAKES: &[(&str, &[Edit], &str)] = &[
        (
            "nix/builders/naersk.nix",
            &[(
                "        \"--workspace\"\n      ]\n",
                "        \"--workspace\"\n        \"--bin\"\n        binary\n      ]\n",
            )],
            "no --bin in the deps derivation",
        ),
        (
            "nix/builders/naersk.nix",
            &[(
                "    strictDeps = true;\n",
                "    strictDeps = true;\n    SHIP_GIT_REV = rev;\n",
            )],
            "the git revision stays out of the deps",
        ),
        (
            "nix/builders/naersk.nix",
            &[("    cargoBuildOptions =\n", "    cargoBuildOption =\n")],
            "unknown argument `cargoBuildOption`",
        ),
        (
            "nix/builders/naersk.nix",
            &[("        \"CC_${ccTarget}\" = \"${ccPrefix}cc\";\n", "")],
            "cargo's linker and the cc crate's tools are aarch64's",
        ),
        // The `build` key: each input in its splice, the env in the deps too.
        (
            "nix/builders/naersk.nix",
            &[(
                "map (lookup pkgsHostTarget build.keys.buildInputs)",
                "map (lookup pkgsBuildHost build.keys.buildInputs)",
            )],
            "image-release-arm64: build inputs are for the platform the binary runs on",
        ),
        (
            "nix/builders/naersk.nix",
            &[(
                "map (lookup pkgsBuildHost build.keys.nativeBuildInputs)",
                "map (lookup pkgsHostTarget build.keys.nativeBuildInputs)",
            )],
            "image-release-arm64: native build inputs run on the build machine",
        ),
        (
            "nix/builders/naersk.nix",
            &[
                ("    inherit (build) env;\n", ""),
                (
                    "            meta = (old.meta or { }) // {\n",
                    "            inherit (build) env;\n            meta = (old.meta or { }) // {\n",
                ),
            ],
            "the build env reaches deps and package",
        ),
        (
            "nix/builders/naersk.nix",
            &[("    inherit (build) env;\n", "    env = build.env // { SHIP_GIT_REV = rev; };\n")],
            "env.SHIP_GIT_REV is also an attribute of the derivation",
        ),
        (
            "nix/builders/naersk.nix",
            &[("    inherit (build) env;\n", "    env = build.env // { RUSTC = \"rustc\"; };\n")],
            "env.RUSTC is also an attribute of the derivation",
        ),
        (
            "nix/builders/naersk.nix",
            &[(
                "  app = package ([ binary ] ++ binaries) {",
                "  app = package [ binary ] {",
            )],
            "the package also builds the runtime binaries",
        ),
        // The toolchain: the workspace's, on the build machine, for naersk as for crane.
        (
            "nix/per-system.nix",
            &[(
                "          rustc = if overlayToolchain == null then p.pkgsBuildHost.rustc else overlayToolchain;\n",
                "          rustC = if overlayToolchain == null then p.pkgsBuildHost.rustc else overlayToolchain;\n",
            )],
            "unexpected argument 'rustC'",
        ),
        (
            "nix/per-system.nix",
            &[(
                "          rustc = if overlayToolchain == null then p.pkgsBuildHost.rustc else overlayToolchain;\n",
                "",
            )],
            "the toolchain rust-toolchain.toml names",
        ),
        (
            "nix/per-system.nix",
            &[(
                "      overlayToolchain = rustToolchainFor p.pkgsBuildHost;\n",
                "      overlayToolchain = rustToolchainFor p;\n",
            )],
            "image-release-arm64: the toolchain runs on the build machine",
        ),
        // The checks on naersk's build: it has no checks' deps, nor crane's arguments.
        (
            "nix/per-system.nix",
            &[(
                "then buildsFor pkgs craneLib false checkProfile else native.${checkProfile};",
                "then native.${checkProfile} else native.${checkProfile};",
            )],
            "attribute 'checkDeps' missing",
        ),
        (
            "nix/per-system.nix",
            &[(
                "      inherit (checkBuilds) commonArgs deps checkDeps;
",
                "      inherit (checkBuilds) deps checkDeps;
",
            )],
            "not a crane option",
        ),
        // deps-checks naming something else than what the checks build on.
        (
            "nix/per-system.nix",
            &[(
                "    ${attrs.checksDeps} = checkBuilds.checkDeps;
",
                "    ${attrs.checksDeps} = native.${checkProfile}.deps;
",
            )],
            "clippy reuses the checks' deps",
        ),
];

#[test]
fn mistakes_in_the_naersk_wiring_fail_the_nix_tests() {
    for (file, edits, needle) in NAERSK_MISTAKES {
        let copy = copy_with_naersk();
        let path = copy.path().join(file);
        let mut source = std::fs::read_to_string(&path).expect("read");
        for (text, replacement) in *edits {
            assert_eq!(
                source.matches(text).count(),
                1,
                "{file} must contain `{text}` exactly once for this mistake to be made"
            );
            source = source.replace(text, replacement);
        }
        std::fs::write(&path, source).expect("write");
        match eval_file(&copy.path().join("nix/tests")) {
            Ok(_) => panic!("{file}: {edits:?} went unnoticed by nix/tests"),
            Err(e) => assert!(
                e.contains(needle),
                "{file}: {edits:?} failed, but not with `{needle}`:\n{e}"
            ),
        }
    }
}

/// A copy of the flake without this repository's rust-toolchain.toml, `extra` added to its
/// ship table. nix-tests' source (this repository's own check) names the file, so it goes
/// from there too.
fn copy_without_toolchain_file(extra: &str) -> tempfile::TempDir {
    let copy = copy_of_the_flake();
    std::fs::remove_file(copy.path().join("rust-toolchain.toml")).expect("rm toolchain file");
    for (file, text, replacement) in [
        (
            "nix/nix-tests.nix",
            "        (root + \"/rust-toolchain.toml\")\n",
            String::new(),
        ),
        (
            "Cargo.toml",
            "[workspace.metadata.ship]\n",
            format!("[workspace.metadata.ship]\n{extra}"),
        ),
    ] {
        let path = copy.path().join(file);
        let source = std::fs::read_to_string(&path).expect("read");
        assert_eq!(source.matches(text).count(), 1, "{file}: one `{text}`");
        std::fs::write(&path, source.replace(text, &replacement)).expect("write");
    }
    copy
}

#[test]
fn the_toolchain_key_and_nixpkgs_rust_reach_both_builders() {
    let cases = |copy: &tempfile::TempDir| -> Result<Vec<String>, String> {
        let wiring = eval_file(&copy.path().join("nix/tests/wiring.nix"))?;
        Ok(wiring["cases"]
            .as_array()
            .expect("wiring cases")
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect())
    };
    for builder in ["crane", "naersk"] {
        for (toolchain, needles) in [
            (
                "toolchain = \"1.94.0\"\n",
                [
                    "x86_64-linux.image-release-arm64: the toolchain the `toolchain` key names",
                    "aarch64-linux.image-dev: the toolchain the `toolchain` key names",
                ],
            ),
            (
                "",
                [
                    "x86_64-linux.image-release-arm64: built with nixpkgs' Rust, the build machine's",
                    "aarch64-linux.image-dev: built with nixpkgs' Rust, the build machine's",
                ],
            ),
        ] {
            let copy =
                copy_without_toolchain_file(&format!("builder = \"{builder}\"\n{toolchain}"));
            let cases = cases(&copy)
                .unwrap_or_else(|e| panic!("{builder} with `{toolchain}`: wiring fails: {e}"));
            for needle in needles {
                assert!(
                    cases.iter().any(|c| c == needle),
                    "{builder} with `{toolchain}`: no case `{needle}`"
                );
            }
        }
    }

    // naersk interpolates rustc, so the target's nixpkgs rustc would be used as is.
    let copy = copy_without_toolchain_file("builder = \"naersk\"\n");
    let path = copy.path().join("nix/per-system.nix");
    let text = "then p.pkgsBuildHost.rustc else";
    let source = std::fs::read_to_string(&path).expect("read");
    assert_eq!(source.matches(text).count(), 1, "one `{text}`");
    std::fs::write(&path, source.replace(text, "then p.rustc else")).expect("write");
    match cases(&copy) {
        Ok(_) => panic!("naersk with the target's nixpkgs rustc went unnoticed"),
        Err(e) => assert!(
            e.contains(
                "x86_64-linux.image-release-arm64: built with nixpkgs' Rust, the build machine's"
            ),
            "failed, but not for the cross build's rustc:\n{e}"
        ),
    }
}

/// A copy of fixture `name` with the adopter's flake.nix.
fn adopting_workspace(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    support::copy_dir(
        &support::ship_crate().join("tests/fixtures").join(name),
        dir.path(),
    );
    std::fs::write(
        dir.path().join("flake.nix"),
        // The flake.nix an adopting workspace gets (nix/template, `ship init`): ship's library
        // alone, its inputs pinned by ship's flake.lock.
        ship::init::templates::flake(name),
    )
    .expect("write flake.nix");
    dir
}

/// `workspace`'s flake evaluated by `checkout`'s nix/tests/adopt.nix, ship's source `checkout`.
fn adopt(checkout: &Path, workspace: &Path) -> Result<Value, String> {
    support::output_json(
        support::nix_instantiate()
            .args(["--eval", "--strict", "--json"])
            .arg(checkout.join("nix/tests/adopt.nix"))
            .arg("--arg")
            .arg("workspace")
            .arg(workspace),
    )
}

#[test]
fn the_flake_exports_the_library_and_the_template() {
    let show = show();
    assert_eq!(names(&show["lib"]), BTreeSet::from(["mkFlake".to_owned()]));
    let template = &show["templates"]["default"];
    let templates: Vec<&String> = show["templates"]
        .as_object()
        .expect("templates")
        .keys()
        .collect();
    assert_eq!(templates, ["default"], "templates");
    assert_eq!(
        template["path"],
        support::repo().join("nix/template").display().to_string()
    );
    assert!(
        template["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "templates.default needs a description: {template}"
    );
    // `nix flake init` prints it: what a template user must change and commit.
    let welcome = template["welcomeText"].as_str().unwrap_or_default();
    for want in ["`image`", "rename", "flake.lock"] {
        assert!(
            welcome.contains(want),
            "welcomeText lacks {want}: {welcome}"
        );
    }
}

#[test]
fn a_workspace_without_ship_gets_every_output_and_ship_from_ships_source() {
    let workspace = adopting_workspace("adopt-single-crate");
    assert!(
        !workspace.path().join("crates/ship").exists(),
        "the fixture must not carry ship"
    );
    let adopted = adopt(&support::repo(), workspace.path())
        .unwrap_or_else(|e| panic!("nix/tests/adopt.nix on adopt-single-crate: {e}"));
    let own = show();
    let expected = expected_packages(&workspace.path().join("Cargo.toml"));
    for system in SYSTEMS {
        assert_eq!(
            names(&adopted["packages"][system]),
            expected[system],
            "packages.{system}: left the adopted flake, right ship::plan::attrs"
        );
        for output in ["apps", "devShells"] {
            assert_eq!(
                names(&adopted[output][system]),
                names(&own[output][system]),
                "{output}.{system}: as ship's own flake has"
            );
        }
        // This repository's own Nix test suites are its extraChecks, no one else's.
        let mut checks = names(&own["checks"][system]);
        checks.remove("nix-tests");
        assert_eq!(names(&adopted["checks"][system]), checks, "checks.{system}");
        assert_eq!(adopted["formatter"][system], "nixfmt-tree");

        // ship is ship's own derivation, the one ship's flake builds, from ship's source.
        let ship = &adopted["builds"][system]["ship"];
        assert_eq!(
            ship["path"], own["builds"][system]["ship"]["path"],
            "{system}: the adopted flake's ship is ship's own"
        );
        assert_eq!(
            ship["args"]["src"], own["builds"][system]["ship"]["args"]["src"],
            "{system}: ship's source is ship's"
        );
    }
}

/// packages.ship's path on each system, for `workspace` with ship's source `checkout`.
fn ship_paths(checkout: &Path, workspace: &Path) -> Vec<Value> {
    let adopted = adopt(checkout, workspace)
        .unwrap_or_else(|e| panic!("adopt.nix with ship's source {checkout:?}: {e}"));
    SYSTEMS
        .iter()
        .map(|s| adopted["builds"][*s]["ship"]["path"].clone())
        .collect()
}

/// Changes to the demo (its code, test, configuration) in a copy of ship's repository.
fn change_the_demo(checkout: &Path) {
    for (file, line) in [
        ("src/main.rs", "\n// a change to the demo\n"),
        ("tests/http.rs", "\n// a change to the demo's test\n"),
        ("configuration/service.json", "\n"),
    ] {
        let path = checkout.join(file);
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text + line).expect("write");
    }
}

#[test]
fn ships_derivation_follows_ships_source_and_ignores_the_demo() {
    let workspace = adopting_workspace("adopt-single-crate");
    let control = copy_of_the_flake();
    let base = ship_paths(control.path(), workspace.path());
    assert!(base.iter().all(Value::is_string), "{base:?}");

    let demo = copy_of_the_flake();
    change_the_demo(demo.path());
    assert_eq!(
        ship_paths(demo.path(), workspace.path()),
        base,
        "a change to the demo changed ship's derivation"
    );

    for file in [
        "crates/ship/src/main.rs",
        "crates/ship-test-support/src/lib.rs",
    ] {
        let changed = copy_of_the_flake();
        let path = changed.path().join(file);
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text + "\n// a change to ship\n").expect("write");
        assert_ne!(
            ship_paths(changed.path(), workspace.path()),
            base,
            "a change to {file} left ship's derivation as it was"
        );
    }

    // The comparison can fail: with the demo's src/ in ship's source, the same change shows.
    let leaky = copy_of_the_flake();
    let ship_nix = leaky.path().join("nix/ship.nix");
    let text = std::fs::read_to_string(&ship_nix).expect("read");
    let entry = "      (shipRoot + \"/Cargo.lock\")\n";
    assert_eq!(
        text.matches(entry).count(),
        1,
        "nix/ship.nix lists Cargo.lock once"
    );
    std::fs::write(
        &ship_nix,
        text.replace(entry, &format!("{entry}      (shipRoot + \"/src\")\n")),
    )
    .expect("write");
    let leaky_base = ship_paths(leaky.path(), workspace.path());
    change_the_demo(leaky.path());
    assert_ne!(
        ship_paths(leaky.path(), workspace.path()),
        leaky_base,
        "with src/ in ship's source a demo change must show"
    );
}

/// The outPaths of what the flake (`nix_dir`'s wiring, against the stand-ins) builds for the
/// workspace at `root`: the deps derivations, the packages, an image and the checks.
fn outputs_of(nix_dir: &Path, root: &Path) -> BTreeMap<String, String> {
    let expr = format!(
        r#"let
             inputs = import {standins} {{ envVars = [ "SHIP_GIT_REV" ]; rev = null; }};
             library = import {library} {{
               inherit (inputs) nixpkgs crane rust-overlay naersk;
               shipSource = /. + {ship};
             }};
             flake = library.mkFlake {{ self = {{ outPath = {root}; rev = "f00d"; }}; root = /. + {root}; }};
             p = flake.packages.x86_64-linux;
             c = flake.checks.x86_64-linux;
           in builtins.mapAttrs (_: d: d.outPath) {{
             inherit (p) deps-release deps-dev deps-checks app-release app-dev image-release;
             inherit (c) clippy tests;
           }}"#,
        standins = serde_json::to_string(&nix_dir.join("tests/stand-ins")).expect("path"),
        library = serde_json::to_string(&nix_dir.join("flake-lib.nix")).expect("path"),
        ship = serde_json::to_string(&support::repo()).expect("path"),
        root = serde_json::to_string(root).expect("path"),
    );
    let value = support::output_json(
        support::nix_instantiate().args(["--eval", "--strict", "--json", "-E", &expr]),
    )
    .unwrap_or_else(|e| panic!("the flake for {root:?}: {e}"));
    serde_json::from_value(value).expect("outPaths")
}

/// Which of [`outputs_of`] change when `file` (relative to the workspace) gets a line more.
fn changed_by_editing(nix_dir: &Path, root: &Path, file: &str) -> BTreeSet<String> {
    let before = outputs_of(nix_dir, root);
    let path = root.join(file);
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str("\n-- edited\n");
    std::fs::write(&path, text).expect("write");
    let after = outputs_of(nix_dir, root);
    before
        .iter()
        .filter(|(name, out)| after[*name] != **out)
        .map(|(name, _)| name.clone())
        .collect()
}

/// The adopt-database fixture (its `include` = migrations/ and .sqlx/) in a directory of its
/// own, built by `builder`.
fn database_workspace(builder: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = support::fixture("adopt-database");
    support::copy_dir(fixture.parent().expect("fixture dir"), dir.path());
    let manifest = dir.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read");
    let table = "[workspace.metadata.ship]\n";
    assert_eq!(text.matches(table).count(), 1, "one `{table}`");
    std::fs::write(
        &manifest,
        text.replace(table, &format!("{table}builder = \"{builder}\"\n")),
    )
    .expect("write");
    dir
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn an_included_file_rebuilds_the_workspace_crates_and_no_deps_derivation() {
    let nix = support::repo().join("nix");
    let packages = ["app-release", "app-dev", "image-release", "clippy", "tests"];
    for builder in ["crane", "naersk"] {
        let ws = database_workspace(builder);
        for file in [
            "migrations/20240101000000_invoices.sql",
            ".sqlx/query-5d1f0b3c.json",
        ] {
            assert_eq!(
                changed_by_editing(&nix, ws.path(), file),
                set(&packages),
                "{builder}: editing {file} (in `include`)"
            );
        }
        // The image's own files stay out of every cargo build (the stand-ins do not follow
        // the image's copy of them: it is a store path in a shell command there).
        assert_eq!(
            changed_by_editing(&nix, ws.path(), "configuration/base.yaml"),
            set(&[]),
            "{builder}: editing configuration/base.yaml (in `runtime.files`)"
        );
        // The stand-ins see into the sources: an edit to a file the deps' source keeps changes
        // them (crane's mkDummySrc would drop this one; the stand-ins keep the whole source).
        assert!(
            changed_by_editing(&nix, ws.path(), "src/main.rs").contains("deps-release"),
            "{builder}: the deps' outPath does not follow their source, so the cases above prove nothing"
        );
    }
}

#[test]
fn without_the_split_an_included_file_would_rebuild_the_deps() {
    for (builder, file, text, replacement) in [
        (
            "crane",
            "crate.nix",
            "  depsArgs = commonArgs // {\n    src = cargoSrc;\n  };\n",
            "  depsArgs = commonArgs;\n",
        ),
        (
            "naersk",
            "builders/naersk.nix",
            "    root = cargoSrc;\n",
            "",
        ),
    ] {
        let nix = tempfile::tempdir().expect("tempdir");
        support::copy_dir(&support::repo().join("nix"), nix.path());
        let path = nix.path().join(file);
        let source = std::fs::read_to_string(&path).expect("read");
        assert_eq!(source.matches(text).count(), 1, "{file}: one `{text}`");
        std::fs::write(&path, source.replace(text, replacement)).expect("write");
        let ws = database_workspace(builder);
        let changed = changed_by_editing(
            nix.path(),
            ws.path(),
            "migrations/20240101000000_invoices.sql",
        );
        assert!(
            changed.contains("deps-release") && changed.contains("deps-dev"),
            "{builder} with {file} broken: the deps should follow the migration, changed only {changed:?}"
        );
    }
}
