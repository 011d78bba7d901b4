//! `tests` and `toolchain`: what `nix flake check` runs and which Rust builds everything.
//! nix/lib/settings.nix reads the same keys; nix/checks.nix and nix/per-system.nix use them.

use std::path::Path;

use serde::Deserialize;

use super::build::attr_paths;
use super::Problem;

/// The `tests` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawTests {
    targets: Option<Vec<String>>,
    skip: Option<Vec<String>>,
    native_build_inputs: Option<Vec<String>>,
}

/// What `checks.tests` runs in the build sandbox.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tests {
    /// cargo target selections (`lib`, `bins`, `test:NAME`...); empty: cargo's default for the
    /// whole workspace.
    pub targets: Vec<String>,
    /// Test names (substrings, as `cargo test -- --skip`) left out, e.g. those needing a database.
    pub skip: Vec<String>,
    /// Tools the tests run (nixpkgs attribute paths), e.g. `procps`.
    pub native_build_inputs: Vec<String>,
}

/// Target kinds `cargo test` selects as a whole, and those selected by name (`KIND:NAME`).
pub const TARGET_KINDS: &[&str] = &["lib", "bins", "tests", "examples", "benches", "doc"];
pub const NAMED_TARGET_KINDS: &[&str] = &["bin", "test", "example", "bench"];

impl RawTests {
    pub(super) fn resolve(self) -> Result<Tests, Problem> {
        let targets = self.targets.unwrap_or_default();
        for (i, t) in targets.iter().enumerate() {
            let key = format!("tests.targets[{i}]");
            let ok = TARGET_KINDS.contains(&t.as_str())
                || t.split_once(':').is_some_and(|(kind, name)| {
                    NAMED_TARGET_KINDS.contains(&kind) && is_name(name, "-")
                });
            if !ok {
                return Err(Problem::new(
                    key,
                    format!(
                        "`{t}` is not a test target; accepted: {}, or {} followed by `:NAME`",
                        TARGET_KINDS.join(", "),
                        NAMED_TARGET_KINDS.join(", ")
                    ),
                ));
            }
            if targets[..i].contains(t) {
                return Err(Problem::new(key, format!("duplicate target `{t}`")));
            }
        }
        let skip = self.skip.unwrap_or_default();
        for (i, s) in skip.iter().enumerate() {
            if !is_name(s, ":") {
                return Err(Problem::new(
                    format!("tests.skip[{i}]"),
                    format!("`{s}` is not a test name; accepted: A-Z, a-z, 0-9, _ and : (a test path such as db::tests or a part of one)"),
                ));
            }
        }
        let native_build_inputs =
            attr_paths("tests.native-build-inputs", self.native_build_inputs)?;
        Ok(Tests {
            targets,
            skip,
            native_build_inputs,
        })
    }
}

/// Non-empty, ASCII letters, digits, `_` and the `extra` characters: safe on a command line.
fn is_name(s: &str, extra: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(c))
}

/// The Rust toolchain when the workspace has no rust-toolchain.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Toolchain {
    /// nixpkgs' own rustc, cargo, clippy and rustfmt (crane's default): the default.
    Nixpkgs,
    /// A rust-overlay channel: `stable`, `beta`, `nightly`, `1.95.0`, `nightly-2026-01-01`.
    Channel(String),
}

pub(super) fn toolchain(raw: Option<String>) -> Result<Toolchain, Problem> {
    match raw {
        None => Ok(Toolchain::Nixpkgs),
        Some(t) if t == "nixpkgs" => Ok(Toolchain::Nixpkgs),
        Some(t) if is_channel(&t) => Ok(Toolchain::Channel(t)),
        Some(t) => Err(Problem::new(
            "toolchain",
            format!("`{t}` is not a toolchain; accepted: nixpkgs, stable, beta, nightly, a version such as 1.95.0, or a dated channel such as nightly-2026-01-01"),
        )),
    }
}

/// A `toolchain` channel next to a toolchain file is refused, as nix/lib/toolchain.nix refuses
/// it: the file would win and the key would be silently ignored.
pub(super) fn toolchain_file_conflict(
    manifest: &Path,
    toolchain: &Toolchain,
) -> Result<(), Problem> {
    if !matches!(toolchain, Toolchain::Channel(_)) {
        return Ok(());
    }
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let file = TOOLCHAIN_FILES
        .into_iter()
        .find(|name| dir.join(name).is_file());
    toolchain_conflict(file, toolchain)
}

/// The files nix/lib/toolchain.nix takes the toolchain from, in its order.
pub const TOOLCHAIN_FILES: [&str; 2] = ["rust-toolchain.toml", "rust-toolchain"];

/// [`toolchain_file_conflict`] once the workspace's toolchain `file` is known.
pub(super) fn toolchain_conflict(file: Option<&str>, toolchain: &Toolchain) -> Result<(), Problem> {
    let Toolchain::Channel(channel) = toolchain else {
        return Ok(());
    };
    match file {
        Some(name) => Err(Problem::new(
            "toolchain",
            format!("`{channel}` given, but {name} names the toolchain too; keep one of the two"),
        )),
        None => Ok(()),
    }
}

fn is_channel(t: &str) -> bool {
    let numeric = |s: &str| {
        let parts: Vec<&str> = s.split('.').collect();
        (2..=3).contains(&parts.len())
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    };
    let date = |s: &str| {
        let b = s.as_bytes();
        b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            })
    };
    match t.split_once('-') {
        None => ["stable", "beta", "nightly"].contains(&t) || numeric(t),
        Some((channel, d)) => ["stable", "beta", "nightly"].contains(&channel) && date(d),
    }
}

#[cfg(test)]
mod tests {
    use super::{Tests, Toolchain};
    use crate::config::{test_config as cfg, test_error as err, test_manifest};

    #[test]
    fn tests_default_to_the_whole_workspace_and_take_targets_and_skips() {
        assert_eq!(cfg("").tests, Tests::default());
        let c = cfg(
            "[tests]\ntargets = [\"lib\", \"bins\", \"test:http\", \"bin:svc-cli\"]\n\
             skip = [\"db::\", \"needs_redis\"]\nnative-build-inputs = [\"procps\"]\n",
        );
        assert_eq!(c.tests.targets, ["lib", "bins", "test:http", "bin:svc-cli"]);
        assert_eq!(c.tests.skip, ["db::", "needs_redis"]);
        assert_eq!(c.tests.native_build_inputs, ["procps"]);
    }

    #[test]
    fn toolchain_defaults_to_nixpkgs_and_takes_channels() {
        assert_eq!(cfg("").toolchain, Toolchain::Nixpkgs);
        assert_eq!(
            cfg("toolchain = \"nixpkgs\"\n").toolchain,
            Toolchain::Nixpkgs
        );
        for channel in ["stable", "beta", "1.95.0", "1.95", "nightly-2026-01-01"] {
            assert_eq!(
                cfg(&format!("toolchain = \"{channel}\"\n")).toolchain,
                Toolchain::Channel(channel.into())
            );
        }
    }

    #[test]
    fn a_toolchain_key_next_to_a_toolchain_file_is_refused_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, test_manifest("toolchain = \"1.94.0\"\n")).unwrap();
        assert_eq!(
            crate::config::load(&manifest).unwrap().toolchain,
            Toolchain::Channel("1.94.0".into())
        );
        std::fs::write(dir.path().join("rust-toolchain.toml"), "[toolchain]\n").unwrap();
        let e = crate::config::load(&manifest).unwrap_err().to_string();
        assert!(
            e.contains("[workspace.metadata.ship] toolchain: `1.94.0` given, but rust-toolchain.toml names the toolchain too"),
            "{e}"
        );
        // Without the key the file simply names the toolchain.
        std::fs::write(&manifest, test_manifest("")).unwrap();
        assert_eq!(
            crate::config::load(&manifest).unwrap().toolchain,
            Toolchain::Nixpkgs
        );
    }

    #[test]
    fn bad_tests_and_toolchain_values_name_the_key() {
        for (input, needles) in [
            (
                "[tests]\ntargets = [\"integration\"]\n",
                &["tests.targets[0]", "accepted: lib, bins"][..],
            ),
            (
                "[tests]\ntargets = [\"test:a b\"]\n",
                &["tests.targets[0]", "`:NAME`"],
            ),
            (
                "[tests]\ntargets = [\"lib\", \"lib\"]\n",
                &["tests.targets[1]", "duplicate"],
            ),
            (
                "[tests]\nskip = [\"x; rm\"]\n",
                &["tests.skip[0]", "not a test name"],
            ),
            ("[tests]\nskip = \"db\"\n", &["tests.skip", "invalid type"]),
            (
                "[tests]\nnative-build-inputs = [\"\"]\n",
                &["tests.native-build-inputs[0]", "attribute path"],
            ),
            (
                "[tests]\nfilter = \"x\"\n",
                &["tests.filter", "unknown field `filter`", "`targets`"],
            ),
            (
                "toolchain = \"1.95.0-beta\"\n",
                &["toolchain", "accepted: nixpkgs, stable"],
            ),
            ("toolchain = 1.95\n", &["toolchain", "invalid type"]),
        ] {
            let message = err(input);
            for needle in needles {
                assert!(
                    message.contains(needle),
                    "{input:?}: `{message}` lacks `{needle}`"
                );
            }
        }
    }
}
