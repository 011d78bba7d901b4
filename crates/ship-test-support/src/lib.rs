//! The test harness of the `ship` crate, one helper each, as cargo has `cargo-test-support`
//! (a dev-dependency of ship only; nothing here is in ship's binary or image; its own binary,
//! `ship-harness`, starts the [`registry`] for the benchmark):
//! - the repository, its fixtures, the `ship` binary with a scrubbed environment, tools the
//!   tests need (this file);
//! - [`registry`]: a real Distribution registry on 127.0.0.1 (plain, or htpasswd + TLS);
//! - [`image`]: deterministic docker-archives shaped like streamLayeredImage's output;
//! - [`proxy`]: a fault-injecting HTTP proxy (error statuses, a registry dying mid-upload);
//! - [`token`]: a bearer-token server for the registry's token auth (as ghcr.io uses);
//! - [`sshd`]: a Nix remote builder behind OpenSSH on loopback, with a store of its own;
//! - [`nix_fixture`]: the Nix 2.8 fixture flake and a test's own Nix client state;
//! - [`workflow`]: reading the GitHub workflows, checking them against `ship plan` and the
//!   flake, and running their jobs here;
//! - [`cargo_split`]: crane's dependency split imitated with plain cargo on its dummy source.

pub mod cargo_split;
pub mod image;
pub mod nix_fixture;
pub mod proxy;
pub mod registry;
pub mod sshd;
pub mod token;
pub mod workflow;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root (the workspace holding this crate).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The ship crate's directory.
pub fn ship_crate() -> PathBuf {
    repo().join("crates/ship")
}

/// A sample manifest: crates/ship/tests/fixtures/NAME/Cargo.toml.
pub fn fixture(name: &str) -> PathBuf {
    ship_crate()
        .join("tests/fixtures")
        .join(name)
        .join("Cargo.toml")
}

/// The `ship` binary cargo built for the running test: next to the `deps` directory that
/// holds the test executable, as cargo-test-support finds cargo's.
pub fn ship_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable in target/PROFILE/deps");
    let bin = dir.join("ship");
    assert!(
        bin.is_file(),
        "{} is missing: run the tests with cargo test (which builds it)",
        bin.display()
    );
    bin
}

/// Every variable `ship` reads from the environment: none leaks in from the caller's (a CI
/// runner's GITHUB_*, a developer's registry login or SHIP_MANIFEST).
pub const SHIP_ENV_VARS: &[&str] = &[
    "SHIP_MANIFEST",
    "SHIP_NIX",
    "SHIP_NIX_ARGS",
    "SHIP_CACHIX",
    "SHIP_REGISTRY_USERNAME",
    "SHIP_REGISTRY_PASSWORD",
    "SHIP_TIMEOUT",
    "SHIP_STALL_TIMEOUT",
    "SHIP_CHUNK_SIZE",
    "GITHUB_REF",
    "GITHUB_EVENT_NAME",
    "GITHUB_SHA",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "REGISTRY_AUTH_FILE",
    "DOCKER_CONFIG",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
];

/// The `ship` binary with none of [`SHIP_ENV_VARS`] set.
pub fn ship() -> Command {
    let mut cmd = Command::new(ship_bin());
    for var in SHIP_ENV_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// `ship plan --manifest MANIFEST --format json ARGS`: the plan, or ship's error message.
pub fn ship_plan(manifest: &Path, args: &[&str]) -> Result<serde_json::Value, String> {
    output_json(
        ship()
            .arg("plan")
            .arg("--manifest")
            .arg(manifest)
            .args(["--format", "json"])
            .args(args),
    )
}

/// Copies the directory tree `from` to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create directory");
    for entry in std::fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// `nix-instantiate` evaluating without a store or substituters (pure evaluation only).
pub fn nix_instantiate() -> Command {
    let exe = require_tool(&["nix-instantiate"], "nix-bin");
    let mut cmd = Command::new(exe);
    cmd.args(["--store", "dummy://", "--option", "substituters", ""]);
    cmd
}

/// A cachix stand-in that records what it is asked (see the script).
pub fn recording_cachix() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("recording-cachix")
}

/// The full path of the first of `names` on PATH, or a panic that says how to get it: `install`
/// names the package (tests never install anything and never skip silently).
pub fn require_tool(names: &[&str], install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "this test needs `{}` on PATH ({install}; .ci/setup installs it, README \"Test\" lists every prerequisite)",
        names.join("` or `")
    );
}

/// [`ship`] on a "fresh machine": HOME and TMPDIR in `home`, so nothing of the user's auth
/// files or caches is seen.
pub fn ship_in(home: &Path) -> Command {
    let mut cmd = ship();
    let tmp = home.join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    cmd.env("HOME", home).env("TMPDIR", &tmp);
    cmd
}

/// A new empty home for [`ship_in`]: a client with no local state.
pub fn fresh_home() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ship-home-")
        .tempdir()
        .expect("home dir")
}

/// Entries left in the TMPDIR [`ship_in`] gives `home` (ship's spool directories would show
/// up here).
pub fn tmp_leftovers(home: &Path) -> Vec<String> {
    std::fs::read_dir(home.join("tmp"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `cmd` to the end; a failure panics with the command and its stderr.
pub fn output_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd`: its stdout as JSON, or its stderr when it fails.
pub fn output_json(cmd: &mut Command) -> Result<serde_json::Value, String> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{cmd:?} printed no JSON ({e})")))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Run `cmd`, returning (success, stdout, stderr).
pub fn run(cmd: &mut std::process::Command) -> (bool, String, String) {
    let out = cmd.output().expect("run command");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ship push-image IMAGE --to REPO --format json EXTRA…` with [`ship_in`]`(home)`: its JSON
/// report, after asserting it succeeded.
pub fn push_image_json(
    home: &std::path::Path,
    image: &std::path::Path,
    repo: &str,
    extra: &[&str],
) -> serde_json::Value {
    run_json(
        ship_in(home)
            .arg("push-image")
            .arg(image)
            .args(["--to", repo, "--format", "json"])
            .args(extra),
    )
}

/// Run `cmd` and parse its stdout as JSON, panicking with its stderr if it failed.
pub fn run_json(cmd: &mut std::process::Command) -> serde_json::Value {
    let (ok, stdout, stderr) = run(cmd);
    assert!(
        ok,
        "command failed: {cmd:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"))
}
