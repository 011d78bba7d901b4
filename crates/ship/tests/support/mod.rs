//! Test harness shared by the integration tests (`mod support;` in each test file):
//! - [`registry`]: a real Distribution registry on 127.0.0.1 (plain, or htpasswd + TLS);
//! - [`image`]: deterministic docker-archives shaped like streamLayeredImage's output;
//! - [`proxy`]: a fault-injecting HTTP proxy (error statuses, a registry dying mid-upload);
//! - [`token`]: a bearer-token server for the registry's token auth (as ghcr.io uses);
//! - [`sshd`]: a Nix remote builder behind OpenSSH on loopback, with a store of its own.
//!
//! Each test binary uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod image;
pub mod proxy;
pub mod registry;
pub mod sshd;
pub mod token;

use std::path::PathBuf;

/// The repository's root (the workspace holding this crate).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A sample manifest: tests/fixtures/NAME/Cargo.toml.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .join("Cargo.toml")
}

/// The full path of `tool` on PATH, or a panic that says which package provides it (tests
/// never install anything and never skip silently).
pub fn require_tool(names: &[&str], package: &str) -> PathBuf {
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
        "this test needs `{}` on PATH (Debian package {package}; .ci/run installs it)",
        names.join("` or `")
    );
}

/// The `ship` binary with an environment of its own: HOME and TMPDIR in `home` (so nothing
/// of the user's auth files or caches is seen: a "fresh machine"), no registry variables.
pub fn ship(home: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ship"));
    let tmp = home.join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    cmd.env("HOME", home).env("TMPDIR", &tmp);
    for var in [
        "REGISTRY_AUTH_FILE",
        "DOCKER_CONFIG",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "SHIP_REGISTRY_USERNAME",
        "SHIP_REGISTRY_PASSWORD",
    ] {
        cmd.env_remove(var);
    }
    cmd
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
