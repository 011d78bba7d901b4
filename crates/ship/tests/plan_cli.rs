//! `ship plan` end to end: the real binary on sample manifests, good and bad.

use ship_test_support as support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use support::fixture;

const SHA: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

fn root_manifest() -> PathBuf {
    support::repo().join("Cargo.toml")
}

/// [`support::ship`], for assert_cmd's assertions.
fn ship() -> Command {
    Command::from_std(support::ship())
}

fn plan_json(manifest: &Path, args: &[&str]) -> Value {
    support::ship_plan(manifest, args).unwrap_or_else(|e| panic!("ship plan failed: {e}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_owned())
        .collect()
}

#[test]
fn release_tag_on_the_repo_manifest() {
    let p = plan_json(
        &root_manifest(),
        &["--ref", "refs/tags/v1.2.3", "--sha", SHA],
    );
    assert_eq!(p["variant"], "production");
    assert_eq!(p["profile"], "release");
    assert_eq!(p["image"], "ghcr.io/ship-rs/demo-service");
    assert_eq!(strings(&p["platforms"]), ["linux/amd64", "linux/arm64"]);
    assert_eq!(
        strings(&p["tags"]),
        ["1.2.3", "1.2", "1", "latest", "sha-a1b2c3d"]
    );
    let include = p["matrix"]["include"].as_array().unwrap();
    let attrs: Vec<_> = include
        .iter()
        .map(|e| {
            (
                e["platform"].as_str().unwrap(),
                e["system"].as_str().unwrap(),
                e["attr"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attrs,
        [
            ("linux/amd64", "x86_64-linux", "image-release"),
            ("linux/arm64", "aarch64-linux", "image-release")
        ]
    );
}

#[test]
fn github_environment_is_read_when_flags_are_absent() {
    let out = ship()
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"))
        .args(["plan", "--format", "json"])
        .env("GITHUB_REF", "refs/pull/42/merge")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_SHA", SHA)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["variant"], "dev");
    assert_eq!(strings(&p["tags"]), ["pr-42", "sha-a1b2c3d"]);
    assert_eq!(p["matrix"]["include"][0]["attr"], "image-dev");
}

#[test]
fn github_format_appends_to_github_output() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out");
    std::fs::write(&out_file, "earlier=1\n").unwrap();
    ship()
        .args([
            "plan",
            "--format",
            "github",
            "--ref",
            "refs/tags/dev-3",
            "--sha",
            SHA,
        ])
        .arg("--manifest")
        .arg(root_manifest())
        .env("GITHUB_OUTPUT", &out_file)
        .assert()
        .success()
        .stdout(predicate::str::contains("dev (selected by rules[1])"));
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.starts_with("earlier=1\nvariant=dev\n"), "{text}");
    assert!(
        text.contains("\ntags=[\"dev-3\",\"sha-a1b2c3d\"]\n"),
        "{text}"
    );
    let matrix = text
        .lines()
        .find_map(|l| l.strip_prefix("matrix="))
        .unwrap();
    let m: Value = serde_json::from_str(matrix).unwrap();
    assert_eq!(m["include"][0]["attr"], "image-dev");
    assert_eq!(m["include"][0]["runner"], "ubuntu-24.04");

    ship()
        .args(["plan", "--format", "github"])
        .arg("--manifest")
        .arg(root_manifest())
        .assert()
        .failure()
        .stderr(predicate::str::contains("GITHUB_OUTPUT is not set"));
}

#[test]
fn sample_manifests() {
    let p = plan_json(&fixture("minimal"), &["--ref", "refs/heads/main"]);
    assert_eq!(
        (p["variant"].as_str(), p["image"].as_str()),
        (Some("dev"), Some("tiny"))
    );
    assert_eq!(p["cache"], Value::Null);

    let p = plan_json(&fixture("cross"), &["--ref", "refs/tags/v1.4.0"]);
    let arm = &p["matrix"]["include"][1];
    assert_eq!(arm["attr"], "image-release-arm64");
    assert_eq!(arm["system"], "x86_64-linux");
    assert_eq!(arm["cross"], true);
    assert_eq!(p["binary"], "api-server");

    let p = plan_json(
        &fixture("custom"),
        &["--ref", "refs/heads/main", "--event", "push"],
    );
    assert_eq!(p["variant"], "staging");
    assert_eq!(p["profile"], "fast-release");
    assert_eq!(strings(&p["platforms"]), ["linux/arm64", "linux/amd64"]);
    assert_eq!(p["matrix"]["include"][0]["runner"], "self-hosted-arm64");
    assert_eq!(p["matrix"]["include"][0]["attr"], "image-fast-release");
}

#[test]
fn table_is_the_default_format() {
    ship()
        .args([
            "plan",
            "--ref",
            "refs/heads/feature/Login_page",
            "--sha",
            SHA,
        ])
        .arg("--manifest")
        .arg(root_manifest())
        .assert()
        .success()
        .stdout(predicate::str::contains("feature-Login_page, sha-a1b2c3d"))
        .stdout(predicate::str::contains(".#image-dev"));
}

#[test]
fn bad_manifests_fail_with_the_key_and_accepted_values() {
    let cases = [
        (
            "bad-platform",
            vec![
                "variants.dev.platforms[1]",
                "linux/s390x",
                "accepted: linux/amd64, linux/arm64",
            ],
        ),
        (
            "bad-key",
            vec!["imagee", "unknown field", "expected one of"],
        ),
        (
            "bad-rule",
            vec!["rules[0].variant", "`prod`", "accepted: dev, production"],
        ),
    ];
    for (name, needles) in cases {
        let path = fixture(name);
        let mut assert = ship()
            .arg("plan")
            .arg("--manifest")
            .arg(&path)
            .assert()
            .failure()
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(path.display().to_string()));
        for n in needles {
            assert = assert.stderr(predicate::str::contains(n));
        }
    }
}

#[test]
fn bad_flags_fail_clearly() {
    ship()
        .args(["plan", "--variant", "nightly"])
        .arg("--manifest")
        .arg(root_manifest())
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "--variant `nightly`: unknown variant; accepted: dev, production",
        ));
    ship()
        .args(["plan", "--sha", "not-a-sha"])
        .arg("--manifest")
        .arg(root_manifest())
        .assert()
        .failure()
        .stderr(predicate::str::contains("--sha `not-a-sha`"));
    ship()
        .args(["plan", "--manifest", "/nonexistent/Cargo.toml"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "cannot read /nonexistent/Cargo.toml",
        ));
}
