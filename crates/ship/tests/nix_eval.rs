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
        "nix/outputs.nix",
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
        ["config", "stand-ins", "wiring"]
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
    for name in ["minimal", "cross", "custom"] {
        assert_agree(&fixture(name));
    }
}

/// A manifest like config.rs's test_manifest, in a file both sides can read.
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
