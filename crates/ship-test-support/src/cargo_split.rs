//! crane's dependency split imitated with plain cargo, for workspaces no Nix can build here:
//! the dependencies built on crane's dummy source (`mkDummySrc`: every `.rs` file replaced by a
//! stub, the manifests, Cargo.lock and toolchain file kept, nothing else), then the real source
//! copied over it in the same directory (cargo's fingerprints of workspace members include
//! their path; crane builds both in the same build directory) and built again on the same
//! target directory, as buildPackage builds on `cargoArtifacts`. What each step compiled comes
//! from cargo's JSON messages. bench/benchlib/crane.py imitates the same for the benchmark.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// crane's stub for every `.rs` file: a lib and a bin both compile from it.
pub const DUMMY_RS: &str = "#![allow(clippy::all)]\n#![allow(dead_code)]\npub fn main() {}\n";

/// Files crane keeps verbatim in the dummy source, besides every `Cargo.toml`.
const KEPT: &[&str] = &[
    "Cargo.lock",
    "rust-toolchain.toml",
    "rust-toolchain",
    ".cargo/config",
    ".cargo/config.toml",
];

/// One compiled (or fresh) unit from cargo's `compiler-artifact` messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub package_id: String,
    pub target: String,
    pub fresh: bool,
}

impl Unit {
    /// A registry or git dependency, not a workspace member (`path+file://`).
    pub fn is_dependency(&self) -> bool {
        !self.package_id.starts_with("path+file://")
    }
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if name != "target" && name != ".git" {
                    stack.push(path);
                }
            } else {
                out.push(path.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Writes crane's dummy source of the workspace `from` into `to`.
pub fn write_dummy_source(from: &Path, to: &Path) {
    for rel in files(from) {
        let target = to.join(&rel);
        let keep = rel.file_name().is_some_and(|n| n == "Cargo.toml")
            || KEPT.iter().any(|k| rel == Path::new(k));
        let dummy = rel.extension().is_some_and(|e| e == "rs");
        if keep || dummy {
            std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        }
        if dummy {
            std::fs::write(&target, DUMMY_RS).expect("write dummy");
        } else if keep {
            std::fs::copy(from.join(&rel), &target).expect("copy kept file");
        }
    }
}

/// The real source copied over the dummy, every file written anew (fresh mtimes, as a new
/// derivation's unpacked source has).
pub fn copy_real_source(from: &Path, to: &Path) {
    for rel in files(from) {
        let target = to.join(&rel);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        let bytes = std::fs::read(from.join(&rel)).expect("read source");
        std::fs::write(&target, bytes).expect("write source");
    }
}

/// `cargo build --locked --offline --workspace ARGS` in `dir` on `target_dir`, as crane runs
/// it (no incremental builds); the units cargo reported.
pub fn cargo_build(dir: &Path, target_dir: &Path, args: &[&str]) -> Vec<Unit> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let out = Command::new(cargo)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_BUILD_INCREMENTAL", "false")
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(["build", "--locked", "--offline", "--workspace"])
        .args(args)
        .args(["--message-format", "json"])
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo build {args:?} in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .map(|m| Unit {
            package_id: m["package_id"].as_str().unwrap_or_default().to_owned(),
            target: m["target"]["name"].as_str().unwrap_or_default().to_owned(),
            fresh: m["fresh"].as_bool().unwrap_or(false),
        })
        .collect()
}

/// What each half of the split compiled.
#[derive(Debug)]
pub struct Split {
    pub deps: Vec<Unit>,
    pub app: Vec<Unit>,
}

impl Split {
    /// Dependencies the app step compiled again: empty when the split works.
    pub fn dependencies_recompiled(&self) -> Vec<&Unit> {
        self.app
            .iter()
            .filter(|u| u.is_dependency() && !u.fresh)
            .collect()
    }
}

/// The deps step (`cargo build` on the dummy source) then the app step (`cargo build --bin
/// BINARY` on the real source) in `work`, for the workspace at `ws`; `profile_args` as crane's
/// CARGO_PROFILE gives them (empty for dev, `--release`).
pub fn deps_split(ws: &Path, binary: &str, work: &Path, profile_args: &[&str]) -> Split {
    let source = work.join("source");
    let target = work.join("target");
    write_dummy_source(ws, &source);
    let deps = cargo_build(&source, &target, profile_args);
    copy_real_source(ws, &source);
    let mut args = profile_args.to_vec();
    args.extend(["--bin", binary]);
    let app = cargo_build(&source, &target, &args);
    Split { deps, app }
}
