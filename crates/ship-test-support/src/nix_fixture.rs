//! The Nix 2.8 fixture flake (tests/fixtures/flake) for integration tests: a flake with no
//! inputs whose outputs are named and shaped like the real flake's (deps-P, app-P, image-P,
//! and on x86_64-linux the -arm64 cross set), built with the host's gcc and
//! aarch64-linux-gnu-gcc. Use it from a test file with
//!
//! ```no_run
//! use ship_test_support::nix_fixture::{FixtureFlake, NixEnv, OFFLINE};
//! let flake = FixtureFlake::prepare();
//! let env = NixEnv::new();
//! let mut cmd = ship_test_support::ship();
//! env.apply(&mut cmd, OFFLINE);
//! cmd.args(["build", &flake.attr("image-dev")]);
//! ```
//!
//! Every `prepare()` writes a fresh salt into the copy, so its store paths are new to the
//! store: the first build of a test really builds, whatever ran before on the machine.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::require_tool;

/// Nix options that keep a test offline: no substituter at all (cache.nixos.org is
/// unreachable and would only be retried).
pub const OFFLINE: &str = "--option substituters ''";

/// Every attribute the fixture has on x86_64-linux.
pub const ATTRS: &[&str] = &[
    "deps-dev",
    "app-dev",
    "image-dev",
    "deps-release",
    "app-release",
    "image-release",
    "deps-dev-arm64",
    "app-dev-arm64",
    "image-dev-arm64",
    "deps-release-arm64",
    "app-release-arm64",
    "image-release-arm64",
];

/// The fixture's binary, inside `app-*` outputs as `bin/fixture`.
pub const BINARY: &str = "fixture";

fn source_dir() -> PathBuf {
    crate::ship_crate().join("tests/fixtures/flake")
}

/// A salt no other prepared copy has: process id, time and a counter.
pub fn unique_salt() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A copy of the fixture flake in a temporary directory (removed on drop).
pub struct FixtureFlake {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    pub salt: String,
}

impl FixtureFlake {
    /// A copy with a fresh salt: nothing of it is in the store yet.
    pub fn prepare() -> Self {
        Self::prepare_with_salt(&unique_salt())
    }

    /// A copy with the given salt: two copies with the same salt share store paths.
    pub fn prepare_with_salt(salt: &str) -> Self {
        require_fixture_tools();
        let tmp = tempfile::tempdir().expect("temp dir for the fixture flake");
        let root = tmp.path().join("flake");
        crate::copy_dir(&source_dir(), &root);
        std::fs::write(root.join("salt"), salt).expect("write the fixture's salt");
        Self {
            _tmp: tmp,
            root,
            salt: salt.to_owned(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// `path:/tmp/.../flake`, a flake reference Nix 2.8 evaluates in pure mode.
    pub fn flake_ref(&self) -> String {
        format!("path:{}", self.root.display())
    }

    /// `path:/tmp/.../flake#ATTR` (ATTR as in `packages.<system>.ATTR`, or a full attribute path).
    pub fn attr(&self, attr: &str) -> String {
        format!("{}#{attr}", self.flake_ref())
    }

    /// A source-only change: the app and image derivations change, deps do not (like editing
    /// src/ without touching Cargo.toml/Cargo.lock).
    pub fn set_message(&self, message: &str) {
        let escaped = message.replace('\\', "\\\\").replace('"', "\\\"");
        std::fs::write(
            self.root.join("src/message.h"),
            format!("#define FIXTURE_MESSAGE \"{escaped}\"\n"),
        )
        .expect("write src/message.h");
    }
}

/// A test's own Nix client state: XDG_CACHE_HOME (Nix caches evaluation results and binary
/// cache lookups there, which must not leak between tests).
pub struct NixEnv {
    pub cache_home: tempfile::TempDir,
}

impl NixEnv {
    pub fn new() -> Self {
        require_tool(&["nix"], "nix-bin");
        Self {
            cache_home: tempfile::tempdir().expect("temp XDG_CACHE_HOME"),
        }
    }

    /// Points `cmd` (ship or nix) at this state; `nix_args` is what SHIP_NIX_ARGS carries.
    pub fn apply(&self, cmd: &mut Command, nix_args: &str) {
        cmd.env("XDG_CACHE_HOME", self.cache_home.path())
            .env("SHIP_NIX_ARGS", nix_args)
            .env_remove("SHIP_NIX")
            .env_remove("GITHUB_STEP_SUMMARY");
    }

    /// Runs `nix ARGS` (new CLI enabled, offline) and returns its output; panics on failure.
    pub fn nix(&self, args: &[&str]) -> Output {
        let out = self.nix_unchecked(args);
        assert!(
            out.status.success(),
            "nix {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn nix_unchecked(&self, args: &[&str]) -> Output {
        Command::new("nix")
            .args(["--extra-experimental-features", "nix-command flakes"])
            .args(["--option", "substituters", ""])
            .args(args)
            .env("XDG_CACHE_HOME", self.cache_home.path())
            .output()
            .expect("run nix")
    }

    /// The store paths of `nix path-info -r PATH`.
    pub fn closure(&self, path: &str) -> Vec<String> {
        let out = self.nix(&["path-info", "-r", path]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// `nix key generate-secret` + `convert-secret-to-public` into `dir`: (secret key file,
    /// public key).
    pub fn signing_key(&self, dir: &Path, name: &str) -> (PathBuf, String) {
        let secret = self
            .nix(&["key", "generate-secret", "--key-name", name])
            .stdout;
        let file = dir.join(format!("{name}.sec"));
        std::fs::write(&file, &secret).expect("write secret key");
        let public = Command::new("nix")
            .args(["--extra-experimental-features", "nix-command"])
            .args(["key", "convert-secret-to-public"])
            .stdin(std::fs::File::open(&file).expect("open secret key"))
            .output()
            .expect("run nix key convert-secret-to-public");
        assert!(public.status.success(), "convert-secret-to-public failed");
        (
            file,
            String::from_utf8_lossy(&public.stdout).trim().to_owned(),
        )
    }
}

impl NixEnv {
    /// Runs the `ship` binary with this state and `nix_args` as SHIP_NIX_ARGS.
    pub fn ship(&self, nix_args: &str, args: &[&str]) -> Output {
        let mut cmd = crate::ship();
        self.apply(&mut cmd, nix_args);
        cmd.args(args).output().expect("run ship")
    }
}

/// What `ship release` runs on: a scratch directory, a fresh fixture flake, a Nix state, and
/// a one-package workspace manifest whose `[workspace.metadata.ship]` names the fixture's
/// binary and the image repository.
pub struct ReleaseWorkspace {
    pub dir: tempfile::TempDir,
    pub flake: FixtureFlake,
    pub env: NixEnv,
    pub manifest: PathBuf,
}

/// A signed `file://` binary cache set in a [`ReleaseWorkspace`]'s manifest.
pub struct SignedFileCache {
    pub dir: PathBuf,
    pub public_key: String,
    pub key_file: PathBuf,
}

impl ReleaseWorkspace {
    /// The workspace, its manifest with `image = "{repo}"`.
    pub fn new(repo: &str) -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let flake = FixtureFlake::prepare();
        let env = NixEnv::new();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(
            &manifest,
            format!(
                "[package]\nname = \"fixture\"\nversion = \"0.1.0\"\n\n[workspace]\n\n\
                 [workspace.metadata.ship]\nbinary = \"fixture\"\nimage = \"{repo}\"\n"
            ),
        )
        .expect("write the workspace manifest");
        Self {
            dir,
            flake,
            env,
            manifest,
        }
    }

    /// Adds `cache = "file://...?secret-key=...&compression=zstd"` to the manifest: a cache
    /// directory in the workspace, not yet created, signed with a new key named `key_name`.
    pub fn add_signed_file_cache(&self, key_name: &str) -> SignedFileCache {
        let (key_file, public_key) = self.env.signing_key(self.dir.path(), key_name);
        let dir = self.dir.path().join("cache");
        let line = format!(
            "cache = \"file://{}?secret-key={}&compression=zstd\"\n",
            dir.display(),
            key_file.display()
        );
        // The ship table is the manifest's last, so an appended key belongs to it.
        let mut text = std::fs::read_to_string(&self.manifest).expect("read the manifest");
        text.push_str(&line);
        std::fs::write(&self.manifest, text).expect("write the manifest");
        SignedFileCache {
            dir,
            public_key,
            key_file,
        }
    }
}

/// `out`, after asserting ship succeeded (its output in the failure message).
pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "ship failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// ship's stdout as JSON.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("ship printed JSON")
}

impl Default for NixEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// What the fixture's builders run on the host (the sandbox is off, see flake.nix).
pub fn require_fixture_tools() {
    require_tool(&["nix"], "nix-bin");
    require_tool(&["gcc"], "gcc");
    require_tool(&["aarch64-linux-gnu-gcc"], "gcc-aarch64-linux-gnu");
    for (lib, package) in [
        ("/usr/lib/x86_64-linux-gnu/libc.a", "libc6-dev"),
        ("/usr/aarch64-linux-gnu/lib/libc.a", "libc6-dev-arm64-cross"),
    ] {
        assert!(
            Path::new(lib).is_file(),
            "{lib} is missing: the fixture links static binaries (Debian: apt-get install {package})"
        );
    }
}
