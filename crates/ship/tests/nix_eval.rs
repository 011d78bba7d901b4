//! The Nix side of the project under `cargo test`: every .nix file parses, the Nix test suites
//! (nix/tests) pass, and nix/lib reads `[workspace.metadata.ship]` exactly as `ship plan` does:
//! the same variants, profiles, platforms and flake attribute names on the repo's manifest and
//! the sample ones, and the same refusals, naming the same key, on bad ones.
//!
//! Needs `nix-instantiate` (Debian nix-bin, Nix 2.8 is enough); evaluation uses
//! `--store dummy://`, so no store, daemon or network is touched.

use ship_test_support as support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use support::{fixture, repo};

/// Evaluates `expr` strictly to JSON, or returns the error text.
fn nix_eval(expr: &str) -> Result<Value, String> {
    support::output_json(
        support::nix_instantiate().args(["--eval", "--strict", "--json", "-E", expr]),
    )
}

/// A Nix string literal holding `path` (paths given as strings are never copied to a store).
fn nix_str(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).expect("JSON string")
}

/// What nix/lib makes of a manifest: the configuration, every variant's matrix and the flake's
/// package names per system.
fn nix_plan(manifest: &Path) -> Result<Value, String> {
    nix_eval(&format!(
        r#"let
             lib = import {lib};
             config = lib.config {{ path = {manifest}; }};
           in {{
             inherit config;
             matrix = builtins.mapAttrs (name: _: lib.attrs.matrix config name) config.variants;
             packageNames = lib.attrs.packageNames config;
           }}"#,
        lib = nix_str(&repo().join("nix/lib")),
        manifest = nix_str(manifest),
    ))
}

/// The variant names `ship` accepts, from its own refusal of an unknown one.
fn ship_variant_names(manifest: &Path) -> BTreeSet<String> {
    let err = support::ship_plan(manifest, &["--variant", "no-such-variant"])
        .expect_err("an unknown variant is refused");
    let accepted = err
        .split("accepted: ")
        .nth(1)
        .unwrap_or_else(|| panic!("`{err}` lists the accepted variants"));
    accepted.trim().split(", ").map(str::to_owned).collect()
}

/// `[workspace.metadata.ship] KEY: message` -> KEY, from either side's error text.
fn error_key(message: &str) -> String {
    let rest = message
        .split("[workspace.metadata.ship] ")
        .nth(1)
        .unwrap_or_else(|| panic!("`{message}` names the table"));
    rest.split(": ")
        .next()
        .expect("a key before the colon")
        .to_owned()
}

fn assert_agree(manifest: &Path) {
    let nix = nix_plan(manifest).unwrap_or_else(|e| panic!("nix/lib on {manifest:?}: {e}"));
    let config = &nix["config"];
    let nix_variants: BTreeSet<String> = config["variants"]
        .as_object()
        .expect("variants")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        nix_variants,
        ship_variant_names(manifest),
        "{manifest:?}: variants"
    );
    let package_names: BTreeMap<String, BTreeSet<String>> =
        serde_json::from_value(nix["packageNames"].clone()).expect("packageNames");

    for variant in &nix_variants {
        let plan = support::ship_plan(manifest, &["--variant", variant])
            .unwrap_or_else(|e| panic!("ship plan {manifest:?} --variant {variant}: {e}"));
        let nv = &config["variants"][variant];
        let ctx = format!("{manifest:?} variant {variant}");
        assert_eq!(plan["profile"], nv["profile"], "{ctx}: profile");
        assert_eq!(plan["platforms"], nv["platforms"], "{ctx}: platforms");
        assert_eq!(plan["image"], config["image"], "{ctx}: image");
        assert_eq!(plan["binary"], config["binary"], "{ctx}: binary");
        assert_eq!(plan["cache"], config["cache"], "{ctx}: cache");
        assert_eq!(plan["builder"], config["builder"], "{ctx}: builder");
        // Every field of every matrix entry: platform, arch, system, runner, cross and the
        // three attribute names.
        assert_eq!(
            plan["matrix"]["include"], nix["matrix"][variant],
            "{ctx}: matrix (left: ship plan, right: nix/lib/attrs.nix)"
        );
        for entry in plan["matrix"]["include"].as_array().expect("include") {
            let system = entry["system"].as_str().expect("system");
            for key in ["attr", "app", "deps"] {
                let attr = entry[key].as_str().expect("attribute name");
                assert!(
                    package_names[system].contains(attr),
                    "{ctx}: the flake has no packages.{system}.{attr}; it has {:?}",
                    package_names[system]
                );
            }
        }
    }
}

#[test]
fn every_nix_file_parses() {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if name != "target" && name != ".git" {
                    walk(&path, found);
                }
            } else if name.ends_with(".nix") {
                found.push(path);
            }
        }
    }
    let root = repo().canonicalize().expect("repo root");
    let mut files = Vec::new();
    walk(&root, &mut files);
    for must in [
        "flake.nix",
        "nix/flake-lib.nix",
        "nix/lib/config.nix",
        "nix/tests/wiring.nix",
    ] {
        assert!(
            files.contains(&root.join(must)),
            "{must} was not found among {files:?}"
        );
    }
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let out = support::nix_instantiate()
                .arg("--parse")
                .arg(f)
                .output()
                .expect("run nix-instantiate");
            (!out.status.success())
                .then(|| format!("{}: {}", f.display(), String::from_utf8_lossy(&out.stderr)))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} .nix files do not parse:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn nix_test_suites_pass() {
    let out = support::output_ok(
        support::nix_instantiate()
            .args(["--eval", "--strict", "--json"])
            .arg(repo().join("nix/tests")),
    );
    let suites: BTreeMap<String, Value> =
        serde_json::from_slice(&out.stdout).expect("suite results");
    assert_eq!(
        suites.keys().map(String::as_str).collect::<Vec<_>>(),
        ["config", "stand-ins", "wiring", "workspaces"]
    );
    for (name, result) in &suites {
        let passed = result["passed"].as_u64().expect("passed count");
        let cases = result["cases"].as_array().expect("case names");
        assert!(passed > 0, "suite {name} ran no case");
        assert_eq!(passed, cases.len() as u64, "suite {name}");
    }
}

#[test]
fn nix_and_ship_plan_agree_on_the_repo_manifest() {
    assert_agree(&repo().join("Cargo.toml"));
}

#[test]
fn nix_and_ship_plan_agree_on_the_sample_manifests() {
    for name in [
        "minimal",
        "cross",
        "custom",
        "adopt-single-crate",
        "adopt-toolchain-key",
        "adopt-database",
    ] {
        assert_agree(&fixture(name));
    }
}

/// The `toolchain`, `tests`, `include`, `build` and `runtime` keys as ship reads them (`ship::config`), in
/// the shape nix/lib/config.nix gives them, to compare the two.
fn ship_settings(manifest: &Path) -> Value {
    let c = ship::config::load(manifest).unwrap_or_else(|e| panic!("{manifest:?}: {e}"));
    let toolchain = match &c.toolchain {
        ship::config::Toolchain::Nixpkgs => "nixpkgs".to_owned(),
        ship::config::Toolchain::Channel(channel) => channel.clone(),
    };
    let variants: serde_json::Map<String, Value> = c
        .variants
        .iter()
        .map(|(name, v)| {
            let (b, r) = (&v.build, &v.runtime);
            (
                name.clone(),
                serde_json::json!({
                    "build": {
                        "nativeBuildInputs": b.native_build_inputs,
                        "buildInputs": b.build_inputs,
                        "env": b.env,
                    },
                    "runtime": {
                        "files": r.files,
                        "packages": r.packages,
                        "env": r.env,
                        "workingDir": r.working_dir,
                        "ports": r.ports,
                        "binaries": r.binaries,
                        "labels": r.labels,
                    },
                }),
            )
        })
        .collect();
    serde_json::json!({
        "toolchain": toolchain,
        "tests": {
            "targets": c.tests.targets,
            "skip": c.tests.skip,
            "nativeBuildInputs": c.tests.native_build_inputs,
        },
        "include": c.include,
        "variants": variants,
    })
}

/// The same keys from nix/lib/config.nix, without the keys each list was written under.
fn nix_settings(manifest: &Path) -> Value {
    nix_eval(&format!(
        r#"let
             c = (import {lib}).config {{ path = {manifest}; }};
             strip = s: builtins.removeAttrs s [ "keys" ];
           in {{
             inherit (c) toolchain tests include;
             variants = builtins.mapAttrs (_: v: {{
               build = strip v.build;
               runtime = strip v.runtime;
             }}) c.variants;
           }}"#,
        lib = nix_str(&repo().join("nix/lib")),
        manifest = nix_str(manifest),
    ))
    .unwrap_or_else(|e| panic!("nix/lib on {manifest:?}: {e}"))
}

#[test]
fn nix_and_ship_read_the_build_runtime_tests_toolchain_and_include_keys_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut manifests = vec![repo().join("Cargo.toml")];
    for name in [
        "minimal",
        "adopt-single-crate",
        "adopt-toolchain-key",
        "adopt-database",
    ] {
        manifests.push(fixture(name));
    }
    manifests.push(write_manifest(
        dir.path(),
        "layered",
        "[workspace.metadata.ship.build]\nbuild-inputs = [\"openssl\"]\nenv = { A = \"1\", B = \"2\" }\n\
         [workspace.metadata.ship.runtime]\nfiles = { conf = \"/etc/app\" }\nports = [\"80\", \"53/udp\"]\nlabels = { x = \"1\" }\n\
         [workspace.metadata.ship.variants.dev]\nprofile = \"dev\"\nbuild = { build-inputs = [], env = { B = \"3\" } }\n\
         runtime = { files = { data = \"/data\" }, ports = [\"8080/tcp\"], working-dir = \"/srv\", binaries = [\"tool\"] }\n\
         [workspace.metadata.ship.variants.production]\n",
    ));
    // Files and directories, nested or not, kept in the order given.
    for dir_name in ["migrations", "assets/templates"] {
        std::fs::create_dir_all(dir.path().join(dir_name)).expect("mkdir");
    }
    std::fs::write(dir.path().join("schema.graphql"), "type Q { a: Int }\n").expect("write");
    manifests.push(write_manifest(
        dir.path(),
        "include",
        "[workspace.metadata.ship]\ninclude = [\"schema.graphql\", \"migrations\", \"assets/templates\"]\n",
    ));
    for manifest in manifests {
        assert_eq!(
            nix_settings(&manifest),
            ship_settings(&manifest),
            "{manifest:?} (left: nix/lib, right: ship::config)"
        );
    }
}

/// A manifest like ship's config::test_manifest, in a file both sides can read.
fn write_manifest(dir: &Path, name: &str, ship: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n\n[workspace]\n\n\
             [profile.fast]\ninherits = \"release\"\n\n{ship}"
        ),
    )
    .expect("write manifest");
    path
}

#[test]
fn nix_and_ship_plan_agree_on_more_configurations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("empty-table", "[workspace.metadata.ship]\n"),
        (
            "custom-profile",
            "[workspace.metadata.ship.variants.fast]\nprofile = \"fast\"\nplatforms = [\"linux/arm64\", \"linux/amd64\"]\n\
             [workspace.metadata.ship.variants.dev]\nprofile = \"dev\"\n\
             [workspace.metadata.ship.variants.production]\n",
        ),
        (
            "cross-runner",
            "[workspace.metadata.ship.builders.\"linux/arm64\"]\ncross = true\nrunner = \"big-amd64\"\n",
        ),
        (
            "cache-and-rules",
            "[workspace.metadata.ship]\ncache = \"\"\ndefault-variant = \"production\"\n\
             [[workspace.metadata.ship.rules]]\nevent = \"pull_request\"\nvariant = \"dev\"\n",
        ),
        ("naersk", "[workspace.metadata.ship]\nbuilder = \"naersk\"\n"),
        (
            "services",
            "[workspace.metadata.ship]\ntoolchain = \"1.94.0\"\n\
             [workspace.metadata.ship.tests]\ntargets = [\"lib\", \"test:api\"]\nskip = [\"db::\"]\nnative-build-inputs = [\"procps\"]\n\
             [workspace.metadata.ship.build]\nnative-build-inputs = [\"clang\", \"llvmPackages.lld\"]\nbuild-inputs = [\"openssl\"]\nenv = { SQLX_OFFLINE = \"true\" }\n\
             [workspace.metadata.ship.runtime]\nfiles = { configuration = \"/app/configuration\" }\npackages = [\"cacert\"]\n\
             env = { APP_ENVIRONMENT = \"local\" }\nworking-dir = \"/app\"\nports = [\"8080\", \"53/udp\"]\nbinaries = [\"migrate\"]\nlabels = { team = \"core\" }\n\
             [workspace.metadata.ship.variants.dev]\nprofile = \"dev\"\nruntime = { env = { APP_ENVIRONMENT = \"development\" } }\n\
             [workspace.metadata.ship.variants.production]\nbuild = { env = { SQLX_OFFLINE = \"true\" } }\n",
        ),
        (
            "variant-defaults",
            "[workspace.metadata.ship.variants.only]\n[workspace.metadata.ship]\ndefault-variant = \"only\"\nrules = []\n",
        ),
    ];
    for (name, ship) in cases {
        assert_agree(&write_manifest(dir.path(), name, ship));
    }
}

/// Manifests both sides must refuse, as (name, the `[workspace.metadata.ship]` part, what the
/// Nix message must also say: the accepted values or the rule).
const BAD_INLINE: &[(&str, &str, &[&str])] = &[
    (
        "unknown-variant-key",
        "[workspace.metadata.ship.variants.dev]\nplatfroms = []\n",
        &["platfroms", "profile, platforms"],
    ),
    (
        "duplicate-platform",
        "[workspace.metadata.ship.variants.dev]\nplatforms = [\"linux/amd64\", \"linux/amd64\"]\n[workspace.metadata.ship.variants.production]\n",
        &["duplicate platform `linux/amd64`"],
    ),
    (
        "empty-platforms",
        "[workspace.metadata.ship.variants.dev]\nplatforms = []\n[workspace.metadata.ship.variants.production]\n",
        &["empty", "linux/amd64, linux/arm64"],
    ),
    (
        "unknown-profile",
        "[workspace.metadata.ship.variants.dev]\nprofile = \"speedy\"\n[workspace.metadata.ship.variants.production]\n",
        &["speedy", "dev, release, test, bench, fast"],
    ),
    (
        "doc-profile",
        "[profile.doc]\n[workspace.metadata.ship.variants.dev]\nprofile = \"doc\"\n[workspace.metadata.ship.variants.production]\n",
        &["doc", "dev, release, test, bench, fast"],
    ),
    (
        "default-variant",
        "[workspace.metadata.ship]\ndefault-variant = \"staging\"\n",
        &["staging", "dev, production"],
    ),
    (
        "rule-matches-everything",
        "[[workspace.metadata.ship.rules]]\nvariant = \"dev\"\n",
        &["matches everything"],
    ),
    (
        "rule-tag-and-branch",
        "[[workspace.metadata.ship.rules]]\ntag = \"v*\"\nbranch = \"main\"\nvariant = \"dev\"\n",
        &["never both"],
    ),
    (
        "rule-semver-branch",
        "[[workspace.metadata.ship.rules]]\nbranch = \"main\"\nsemver = true\nvariant = \"dev\"\n",
        &["tags only"],
    ),
    (
        "rule-without-variant",
        "[[workspace.metadata.ship.rules]]\ntag = \"x\"\n",
        &["variant"],
    ),
    (
        "cross-amd64",
        "[workspace.metadata.ship.builders.\"linux/amd64\"]\ncross = true\n",
        &["only linux/arm64"],
    ),
    (
        "unknown-builder",
        "[workspace.metadata.ship.builders.\"windows/amd64\"]\n",
        &["linux/amd64, linux/arm64"],
    ),
    (
        "blank-runner",
        "[workspace.metadata.ship.builders.\"linux/arm64\"]\nrunner = \"  \"\n",
        &["empty"],
    ),
    (
        "cross-not-bool",
        "[workspace.metadata.ship.builders.\"linux/arm64\"]\ncross = \"yes\"\n",
        &["boolean"],
    ),
    (
        "unknown-nix-builder",
        "[workspace.metadata.ship]\nbuilder = \"cargo2nix\"\n",
        &["`cargo2nix`", "accepted: crane, naersk"],
    ),
    (
        "image-uppercase",
        "[workspace.metadata.ship]\nimage = \"ghcr.io/Me/App\"\n",
        &["`Me`", "lowercase"],
    ),
    (
        "image-tag",
        "[workspace.metadata.ship]\nimage = \"ghcr.io/me/app:1.0\"\n",
        &["tag or digest"],
    ),
    (
        "image-type",
        "[workspace.metadata.ship]\nimage = 3\n",
        &["invalid type"],
    ),
    (
        "binary-slash",
        "[workspace.metadata.ship]\nbinary = \"bin/x\"\n",
        &["not a binary name"],
    ),
    (
        "cache-scheme",
        "[workspace.metadata.ship]\ncache = \"ftp://x\"\n",
        &["cachix:NAME", "file://"],
    ),
    (
        "cache-cachix-name",
        "[workspace.metadata.ship]\ncache = \"cachix:My_Cache\"\n",
        &["lowercase"],
    ),
    ("no-variants", "[workspace.metadata.ship.variants]\n", &["at least one"]),
    (
        "variant-name",
        "[workspace.metadata.ship.variants.Dev]\n",
        &["must start with a-z"],
    ),
    (
        "platforms-not-a-list",
        "[workspace.metadata.ship.variants.dev]\nplatforms = \"linux/amd64\"\n",
        &["invalid type"],
    ),
    (
        "platform-not-a-string",
        "[workspace.metadata.ship.variants.dev]\nplatforms = [1]\n",
        &["invalid type"],
    ),
    (
        "toolchain",
        "[workspace.metadata.ship]\ntoolchain = \"latest\"\n",
        &["`latest`", "accepted: nixpkgs, stable"],
    ),
    (
        "toolchain-type",
        "[workspace.metadata.ship]\ntoolchain = 1\n",
        &["invalid type"],
    ),
    (
        "tests-unknown-key",
        "[workspace.metadata.ship.tests]\nfilter = \"x\"\n",
        &["filter", "targets"],
    ),
    (
        "tests-target",
        "[workspace.metadata.ship.tests]\ntargets = [\"integration\"]\n",
        &["`integration`", "lib, bins, tests"],
    ),
    (
        "tests-target-duplicate",
        "[workspace.metadata.ship.tests]\ntargets = [\"test:a\", \"test:a\"]\n",
        &["duplicate target"],
    ),
    (
        "tests-skip",
        "[workspace.metadata.ship.tests]\nskip = [\"a b\"]\n",
        &["not a test name"],
    ),
    (
        "tests-skip-type",
        "[workspace.metadata.ship.tests]\nskip = [1]\n",
        &["invalid type"],
    ),
    (
        "tests-inputs",
        "[workspace.metadata.ship.tests]\nnative-build-inputs = [\"a/b\"]\n",
        &["attribute path"],
    ),
    (
        "build-unknown-key",
        "[workspace.metadata.ship.build]\ncc = \"clang\"\n",
        &["cc", "native-build-inputs"],
    ),
    (
        "build-native-inputs",
        "[workspace.metadata.ship.build]\nnative-build-inputs = [\"pkgs/clang\"]\n",
        &["`pkgs/clang`", "attribute path"],
    ),
    (
        "build-inputs-duplicate",
        "[workspace.metadata.ship.build]\nbuild-inputs = [\"openssl\", \"openssl\"]\n",
        &["duplicate `openssl`"],
    ),
    (
        "build-inputs-type",
        "[workspace.metadata.ship.build]\nbuild-inputs = \"openssl\"\n",
        &["invalid type"],
    ),
    (
        "build-env-name",
        "[workspace.metadata.ship.build]\nenv = { \"1X\" = \"y\" }\n",
        &["environment variable name"],
    ),
    (
        "build-env-reserved",
        "[workspace.metadata.ship.build]\nenv = { CARGO_PROFILE = \"dev\" }\n",
        &["reserved"],
    ),
    (
        "build-env-type",
        "[workspace.metadata.ship.build]\nenv = { X = 1 }\n",
        &["invalid type"],
    ),
    (
        "variant-build-env",
        "[workspace.metadata.ship.variants.dev]\nbuild = { env = { \"A-B\" = \"\" } }\n",
        &["environment variable name"],
    ),
    (
        "runtime-unknown-key",
        "[workspace.metadata.ship.runtime]\nworkdir = \"/app\"\n",
        &["workdir", "working-dir"],
    ),
    (
        "runtime-files-source",
        "[workspace.metadata.ship.runtime]\nfiles = { \"../etc\" = \"/etc\" }\n",
        &["relative to the workspace root"],
    ),
    (
        "runtime-files-destination",
        "[workspace.metadata.ship.runtime]\nfiles = { conf = \"app/conf\" }\n",
        &["absolute path in the image"],
    ),
    (
        "runtime-packages",
        "[workspace.metadata.ship.runtime]\npackages = [\"ca cert\"]\n",
        &["attribute path"],
    ),
    (
        "runtime-env",
        "[workspace.metadata.ship.runtime]\nenv = { \"A=B\" = \"x\" }\n",
        &["environment variable name"],
    ),
    (
        "runtime-working-dir",
        "[workspace.metadata.ship.runtime]\nworking-dir = \"app\"\n",
        &["absolute path"],
    ),
    (
        "runtime-port",
        "[workspace.metadata.ship.runtime]\nports = [\"70000\"]\n",
        &["1-65535"],
    ),
    (
        "runtime-port-duplicate",
        "[workspace.metadata.ship.runtime]\nports = [\"80\", \"80/tcp\"]\n",
        &["duplicate port `80/tcp`"],
    ),
    (
        "runtime-port-type",
        "[workspace.metadata.ship.runtime]\nports = [8080]\n",
        &["invalid type"],
    ),
    (
        "runtime-binaries",
        "[workspace.metadata.ship.runtime]\nbinaries = [\"svc\"]\n",
        &["duplicate binary `svc`"],
    ),
    (
        "runtime-labels",
        "[workspace.metadata.ship.runtime]\nlabels = { \"\" = \"x\" }\n",
        &["empty label name"],
    ),
    (
        "variant-runtime-port",
        "[workspace.metadata.ship.variants.dev]\nruntime = { ports = [\"0\"] }\n",
        &["1-65535"],
    ),
    (
        "include-absolute",
        "[workspace.metadata.ship]\ninclude = [\"/etc/ssl\"]\n",
        &["`/etc/ssl`", "relative to the workspace root"],
    ),
    (
        "include-dot-dot",
        "[workspace.metadata.ship]\ninclude = [\"../shared\"]\n",
        &["`../shared`", "without a leading or trailing `/`, `.` or `..`"],
    ),
    (
        "include-trailing-slash",
        "[workspace.metadata.ship]\ninclude = [\"migrations/\"]\n",
        &["`migrations/`", "not a workspace path"],
    ),
    (
        "include-duplicate",
        "[workspace.metadata.ship]\ninclude = [\"Cargo.lock\", \"Cargo.lock\"]\n",
        &["duplicate `Cargo.lock`"],
    ),
    (
        "include-missing",
        "[workspace.metadata.ship]\ninclude = [\"no-such-migrations\"]\n",
        &[
            "`no-such-migrations` does not exist in the workspace",
            "a flake sees only files git tracks: git add no-such-migrations",
        ],
    ),
    (
        "include-type",
        "[workspace.metadata.ship]\ninclude = \"migrations\"\n",
        &["invalid type"],
    ),
    (
        "include-element-type",
        "[workspace.metadata.ship]\ninclude = [true]\n",
        &["invalid type"],
    ),
    (
        "variant-include",
        "[workspace.metadata.ship.variants.dev]\ninclude = [\"migrations\"]\n",
        &["include", "profile, platforms"],
    ),
    (
        "variants-share-a-profile",
        "[workspace.metadata.ship.variants.dev]\nprofile = \"release\"\nruntime = { env = { A = \"1\" } }\n[workspace.metadata.ship.variants.production]\n",
        &["profile `release` as variant `dev`"],
    ),
];

#[test]
fn bad_manifests_are_refused_by_both_naming_the_same_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    // (manifest, what the Nix message must also say: the accepted values or the rule)
    let mut cases: Vec<(PathBuf, Vec<&str>)> = vec![
        (
            fixture("bad-key"),
            vec!["imagee", "image, binary, cache, source, default-variant"],
        ),
        (
            fixture("bad-platform"),
            vec!["linux/s390x", "linux/amd64, linux/arm64"],
        ),
        (fixture("bad-rule"), vec!["prod", "dev, production"]),
    ];
    for (name, ship, needles) in BAD_INLINE {
        cases.push((write_manifest(dir.path(), name, ship), needles.to_vec()));
    }
    for (manifest, needles) in cases {
        let rust = support::ship_plan(&manifest, &[])
            .expect_err(&format!("ship plan refuses {manifest:?}"));
        let nix = match nix_plan(&manifest) {
            Ok(v) => panic!("nix/lib accepted {manifest:?}, ship refused it ({rust}): {v}"),
            Err(e) => e,
        };
        assert_eq!(
            error_key(&nix),
            error_key(&rust),
            "{manifest:?}: the two name different keys\n  nix: {nix}\n  ship: {rust}"
        );
        let file = manifest.display().to_string();
        assert!(
            nix.contains(&file),
            "{manifest:?}: the Nix error names the file: {nix}"
        );
        for needle in needles {
            assert!(
                nix.contains(needle),
                "{manifest:?}: the Nix error lacks `{needle}`: {nix}"
            );
        }
    }
}
