//! `ship push-cache --cache cachix:NAME` against ship-test-support's recording-cachix, a RECORDING
//! STAND-IN for the cachix CLI (cachix.org is unreachable from the test machines): what ship
//! hands it (arguments, paths on stdin, credentials in the environment), and that the
//! credentials' values never appear in ship's output, even when the tool prints them.

use ship_test_support as support;
use ship_test_support::nix_fixture;

use std::path::PathBuf;
use std::process::{Command, Output};

use nix_fixture::{ok, FixtureFlake, NixEnv, OFFLINE};
use serde_json::Value;

struct Recorder {
    bin: tempfile::TempDir,
    record: tempfile::TempDir,
    token: String,
    signing_key: String,
}

impl Recorder {
    /// A PATH directory whose `cachix` is the recording stand-in.
    fn new() -> Self {
        let bin = tempfile::tempdir().unwrap();
        let script = support::recording_cachix();
        std::os::unix::fs::symlink(&script, bin.path().join("cachix")).unwrap();
        let salt = nix_fixture::unique_salt();
        Self {
            bin,
            record: tempfile::tempdir().unwrap(),
            token: format!("cachix-token-{salt}"),
            signing_key: format!("c2lnbmluZy1rZXk{salt}"),
        }
    }

    fn command(&self, env: &NixEnv) -> Command {
        let mut cmd = support::ship();
        env.apply(&mut cmd, OFFLINE);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = vec![self.bin.path().to_owned()];
        dirs.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).unwrap())
            .env_remove("SHIP_CACHIX")
            .env("CACHIX_AUTH_TOKEN", &self.token)
            .env("CACHIX_SIGNING_KEY", &self.signing_key)
            .env("RECORDING_CACHIX_DIR", self.record.path());
        cmd
    }

    fn recorded(&self, file: &str) -> Option<Vec<String>> {
        std::fs::read_to_string(self.record.path().join(file))
            .ok()
            .map(|s| s.lines().map(str::to_owned).collect())
    }

    fn assert_no_secret(&self, out: &Output) {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(&self.token), "token printed:\n{all}");
        assert!(
            !all.contains(&self.signing_key),
            "signing key printed:\n{all}"
        );
    }
}

/// Builds image-dev and deps-dev, gives fake-nss an upstream signature; returns (image, app,
/// deps, fake-nss) store paths.
fn built_fixture(flake: &FixtureFlake, env: &NixEnv) -> (String, String, String, String) {
    let mut cmd = support::ship();
    env.apply(&mut cmd, OFFLINE);
    let out = ok(cmd
        .args([
            "build",
            "--format",
            "json",
            &flake.attr("image-dev"),
            &flake.attr("deps-dev"),
        ])
        .output()
        .unwrap());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let out_of = |i: usize| {
        report["outputs"][i]["outputs"]["out"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (image, deps) = (out_of(0), out_of(1));
    let closure = env.closure(&image);
    let find = |suffix: &str| {
        closure
            .iter()
            .find(|p| p.ends_with(suffix))
            .unwrap()
            .clone()
    };
    let (app, fake_nss) = (find("-fixture-0.1.0"), find("-fake-nss"));
    let keys = tempfile::tempdir().unwrap();
    let (upstream, _) = env.signing_key(keys.path(), "cache.nixos.org-1");
    env.nix(&[
        "store",
        "sign",
        "--key-file",
        upstream.to_str().unwrap(),
        &fake_nss,
    ]);
    (image, app, deps, fake_nss)
}

#[test]
fn cachix_gets_the_selected_paths_on_stdin_and_its_flags() {
    let flake = FixtureFlake::prepare();
    let env = NixEnv::new();
    let (image, app, deps, fake_nss) = built_fixture(&flake, &env);
    let rec = Recorder::new();

    let out = ok(rec
        .command(&env)
        .args([
            "push-cache",
            "--cache",
            "cachix:ship-test",
            "--jobs",
            "3",
            "--compression-method",
            "zstd",
            "--compression-level",
            "5",
            "--omit-deriver",
            "--format",
            "json",
            &flake.attr("image-dev"),
            &flake.attr("deps-dev"),
        ])
        .output()
        .unwrap());
    rec.assert_no_secret(&out);
    assert_eq!(
        rec.recorded("argv").unwrap(),
        [
            "push",
            "-j",
            "3",
            "-m",
            "zstd",
            "-l",
            "5",
            "--omit-deriver",
            "ship-test"
        ]
    );
    let mut expected = vec![app.clone(), deps.clone()];
    expected.sort();
    let mut stdin = rec.recorded("stdin").unwrap();
    stdin.sort();
    assert_eq!(stdin, expected, "no image, no upstream path");
    assert_eq!(
        rec.recorded("env").unwrap(),
        ["CACHIX_AUTH_TOKEN", "CACHIX_SIGNING_KEY"],
        "credentials reach cachix through its environment"
    );
    // The stand-in printed the token; ship echoed the line with the value scrubbed.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("recording-cachix: 2 paths, token ***"),
        "{err}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["backend"], "cachix");
    assert_eq!(report["target"], "cachix:ship-test");
    assert_eq!(report["present"], Value::Null);
    assert_eq!(report["pushed"]["count"], 2);
    assert_eq!(report["upstream"]["paths"][0], fake_nss.as_str());
    assert_eq!(report["images"]["paths"][0], image.as_str());
    assert_eq!(
        report["commands"][0],
        "cachix push -j 3 -m zstd -l 5 --omit-deriver ship-test < (2 store paths, one per line)"
    );
}

#[test]
fn cachix_from_the_configuration_dry_run_and_failure() {
    let flake = FixtureFlake::prepare();
    let env = NixEnv::new();
    let (_, app, deps, _) = built_fixture(&flake, &env);
    let manifest_dir = tempfile::tempdir().unwrap();
    let manifest = manifest_dir.path().join("Cargo.toml");
    std::fs::write(
        &manifest,
        "[package]\nname = \"tiny\"\nversion = \"0.2.0\"\n\n[workspace]\n\n\
         [workspace.metadata.ship]\ncache = \"cachix:ship-demo\"\n",
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    let items = [flake.attr("image-dev"), flake.attr("deps-dev")];

    let rec = Recorder::new();
    dry_run_runs_no_cachix(&rec, &env, manifest, &items);

    // The configured cache, cachix's defaults.
    let out = ok(rec
        .command(&env)
        .args(["push-cache", "--manifest", manifest])
        .args(&items)
        .output()
        .unwrap());
    rec.assert_no_secret(&out);
    assert_eq!(rec.recorded("argv").unwrap(), ["push", "ship-demo"]);
    let mut stdin = rec.recorded("stdin").unwrap();
    stdin.sort();
    let mut expected = vec![app, deps];
    expected.sort();
    assert_eq!(stdin, expected);

    failures_are_clear_errors(&env, manifest, &items);
}

/// Dry run: says what it would hand cachix, runs nothing.
fn dry_run_runs_no_cachix(rec: &Recorder, env: &NixEnv, manifest: &str, items: &[String]) {
    let out = ok(rec
        .command(env)
        .args(["push-cache", "--dry-run", "--manifest", manifest])
        .args(items)
        .output()
        .unwrap());
    rec.assert_no_secret(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("would run: cachix push ship-demo < (2 store paths, one per line)"),
        "{text}"
    );
    assert!(
        text.contains("(not checked: cachix skips them itself)"),
        "{text}"
    );
    assert_eq!(rec.recorded("argv"), None, "cachix ran in a dry run");
}

/// cachix fails: ship fails, says which command, shows its stderr, still no secret. No
/// cachix at all: a clear error naming the variable that points at it.
fn failures_are_clear_errors(env: &NixEnv, manifest: &str, items: &[String]) {
    let rec = Recorder::new();
    let out = rec
        .command(env)
        .env("RECORDING_CACHIX_EXIT", "3")
        .args(["push-cache", "--manifest", manifest])
        .args(items)
        .output()
        .unwrap();
    assert!(!out.status.success());
    rec.assert_no_secret(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`cachix push ship-demo` failed (exit status: 3)")
            && err.contains("token ***"),
        "{err}"
    );

    let mut cmd = rec.command(env);
    let out = cmd
        .env("SHIP_CACHIX", "/nonexistent/cachix")
        .args(["push-cache", "--manifest", manifest])
        .args(items)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot run `/nonexistent/cachix`") && err.contains("SHIP_CACHIX"),
        "{err}"
    );
}
