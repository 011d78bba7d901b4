//! `[workspace.metadata.ship]`: the one table Nix (nix/lib/config.nix) and `ship` both read.
//! Defaults and validation rules here must match that file; `nix/tests` checks they agree.

mod build;
mod checks;
mod parse;
mod problem;
mod raw;
mod runtime;
mod source;

pub use build::Build;
pub use checks::{Tests, Toolchain, TOOLCHAIN_FILES};
pub use parse::parse;
use problem::Problem;
pub use runtime::Runtime;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::platform::Platform;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid Cargo manifest: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path}: [workspace.metadata.ship] {key}: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("no Cargo.toml with a [workspace] found in {start} or any parent directory")]
    NotFound { start: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    pub profile: String,
    pub platforms: Vec<Platform>,
    pub build: Build,
    pub runtime: Runtime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    pub runner: String,
    /// Build on x86_64-linux by cross-compilation instead of on a native runner.
    pub cross: bool,
}

/// What builds the packages (`builder`): crane, or naersk as the alternative. The checks
/// (clippy, tests) use crane either way; nix/per-system.nix picks nix/crate.nix or
/// nix/builders/naersk.nix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NixBuilder {
    #[default]
    Crane,
    Naersk,
}

impl NixBuilder {
    pub const ALL: [Self; 2] = [Self::Crane, Self::Naersk];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crane => "crane",
            Self::Naersk => "naersk",
        }
    }
}

impl std::fmt::Display for NixBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub tag: Option<String>,
    pub branch: Option<String>,
    pub event: Option<String>,
    pub semver: bool,
    pub variant: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub image: String,
    pub binary: String,
    pub cache: Option<String>,
    pub source: Option<String>,
    pub default_variant: String,
    pub variants: BTreeMap<String, Variant>,
    pub builders: BTreeMap<Platform, Builder>,
    pub rules: Vec<Rule>,
    pub builder: NixBuilder,
    pub toolchain: Toolchain,
    pub tests: Tests,
    /// Workspace paths added to the workspace crates' source (never to the deps'), in the
    /// order given.
    pub include: Vec<String>,
}

impl Config {
    pub fn variant(&self, name: &str) -> Option<&Variant> {
        self.variants.get(name)
    }
    pub fn builder(&self, platform: Platform) -> Builder {
        self.builders
            .get(&platform)
            .cloned()
            .unwrap_or_else(|| default_builder(platform))
    }
    pub fn variant_names(&self) -> String {
        self.variants.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn default_builder(platform: Platform) -> Builder {
    match platform {
        Platform::Amd64 => Builder {
            runner: "ubuntu-24.04".into(),
            cross: false,
        },
        Platform::Arm64 => Builder {
            runner: "ubuntu-24.04-arm".into(),
            cross: false,
        },
    }
}

/// Finds the workspace manifest: the nearest Cargo.toml upwards from `start` that has a
/// `[workspace]` table.
pub fn find_manifest(start: &Path) -> Result<PathBuf, ConfigError> {
    for dir in start.ancestors() {
        let candidate = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&candidate) {
            if text
                .parse::<toml::Table>()
                .is_ok_and(|t| t.contains_key("workspace"))
            {
                return Ok(candidate);
            }
        }
    }
    Err(ConfigError::NotFound {
        start: start.to_path_buf(),
    })
}

pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let config = parse(path, &text)?;
    checks::toolchain_file_conflict(path, &config.toolchain).map_err(|p| invalid_at(path, p))?;
    source::include_exists(path, &config.include).map_err(|p| invalid_at(path, p))?;
    Ok(config)
}

/// The check [`load`] makes of `toolchain` against the workspace's toolchain `file` (one of
/// [`TOOLCHAIN_FILES`]), for a caller that found the file itself.
pub fn check_toolchain_file(
    path: &Path,
    file: Option<&str>,
    toolchain: &Toolchain,
) -> Result<(), ConfigError> {
    checks::toolchain_conflict(file, toolchain).map_err(|p| invalid_at(path, p))
}

fn invalid_at(path: &Path, problem: Problem) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        key: problem.key,
        message: problem.message,
    }
}

/// `test_manifest(ship)` parsed, for a test that expects it accepted.
#[cfg(test)]
pub(crate) fn test_config(ship: &str) -> Config {
    parse(Path::new("Cargo.toml"), &test_manifest(ship)).expect("accepted")
}

/// The error `test_manifest(ship)` is refused with, for a test that expects a refusal.
#[cfg(test)]
pub(crate) fn test_error(ship: &str) -> String {
    parse(Path::new("Cargo.toml"), &test_manifest(ship))
        .expect_err("refused")
        .to_string()
}

/// A manifest for tests: `ship` is written as if inside `[workspace.metadata.ship]`, its own
/// `[x]` / `[[x]]` headers nested there.
#[cfg(test)]
pub(crate) fn test_manifest(ship: &str) -> String {
    let nested: String = ship
        .lines()
        .map(|l| {
            if let Some(rest) = l.strip_prefix("[[") {
                format!("[[workspace.metadata.ship.{rest}\n")
            } else if let Some(rest) = l.strip_prefix('[') {
                format!("[workspace.metadata.ship.{rest}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    format!(
        "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n\n[workspace]\n\n\
         [profile.fast]\ninherits = \"release\"\n\n[workspace.metadata.ship]\n{nested}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::BinaryCache;
    use crate::registry::Repository;

    fn cfg(ship: &str) -> Result<Config, ConfigError> {
        parse(Path::new("Cargo.toml"), &test_manifest(ship))
    }

    fn err(ship: &str) -> String {
        cfg(ship).expect_err("should be rejected").to_string()
    }

    #[test]
    fn minimal_table_gets_defaults() {
        let c = cfg("").unwrap();
        assert_eq!(c.binary, "svc");
        assert_eq!(c.image, "svc");
        assert_eq!(c.cache, None);
        assert_eq!(c.default_variant, "dev");
        assert_eq!(c.variant_names(), "dev, production");
        assert_eq!(c.variants["dev"].profile, "dev");
        assert_eq!(c.variants["dev"].platforms, vec![Platform::Amd64]);
        assert_eq!(c.variants["production"].profile, "release");
        assert_eq!(
            c.variants["production"].platforms,
            vec![Platform::Amd64, Platform::Arm64]
        );
        assert_eq!(c.builder(Platform::Arm64).runner, "ubuntu-24.04-arm");
        assert!(!c.builder(Platform::Arm64).cross);
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.builder, NixBuilder::Crane);
    }

    #[test]
    fn naersk_is_the_alternative_builder() {
        assert_eq!(
            cfg("builder = \"naersk\"\n").unwrap().builder,
            NixBuilder::Naersk
        );
        assert_eq!(
            cfg("builder = \"crane\"\n").unwrap().builder,
            NixBuilder::Crane
        );
    }

    #[test]
    fn no_table_at_all_is_the_minimal_table() {
        let c = parse(
            Path::new("Cargo.toml"),
            "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        assert_eq!(c.binary, "x");
    }

    #[test]
    fn cross_builder_defaults_to_an_amd64_runner() {
        let c = cfg("[builders.\"linux/arm64\"]\ncross = true\n").unwrap();
        assert_eq!(
            c.builder(Platform::Arm64),
            Builder {
                runner: "ubuntu-24.04".into(),
                cross: true
            }
        );
    }

    #[test]
    fn custom_profile_is_accepted_when_defined() {
        let c = cfg("[variants.fast]\nprofile = \"fast\"\n[variants.dev]\nprofile = \"dev\"\n[variants.production]\n").unwrap();
        assert_eq!(c.variants["fast"].profile, "fast");
        assert_eq!(c.variants["production"].profile, "release");
    }

    #[test]
    fn bad_input_names_the_key_and_what_is_accepted() {
        let cases: &[(&str, &[&str])] = &[
            ("colour = 1\n", &["] colour: ", "unknown field `colour`", "image"]),
            (
                "[variants.dev]\nplatfroms = []\n",
                &["variants.dev", "unknown field `platfroms`", "platforms"],
            ),
            (
                "[variants.dev]\nplatforms = [\"linux/riscv64\"]\n[variants.production]\n",
                &["variants.dev.platforms[0]", "linux/riscv64", "linux/amd64, linux/arm64"],
            ),
            (
                "[variants.dev]\nplatforms = [\"linux/amd64\", \"linux/amd64\"]\n[variants.production]\n",
                &["variants.dev.platforms[1]", "duplicate platform `linux/amd64`"],
            ),
            (
                "[variants.dev]\nplatforms = []\n[variants.production]\n",
                &["variants.dev.platforms", "empty"],
            ),
            (
                "[variants.dev]\nprofile = \"speedy\"\n[variants.production]\n",
                &["variants.dev.profile", "speedy", "dev, release, test, bench, fast"],
            ),
            (
                "default-variant = \"staging\"\n",
                &["default-variant", "staging", "accepted: dev, production"],
            ),
            (
                "[[rules]]\ntag = \"x*\"\nvariant = \"qa\"\n",
                &["rules[0].variant", "unknown variant `qa`", "dev, production"],
            ),
            ("[[rules]]\nvariant = \"dev\"\n", &["rules[0]", "matches everything"]),
            (
                "[[rules]]\nbranch = \"main\"\nsemver = true\nvariant = \"dev\"\n",
                &["rules[0].semver", "tags only"],
            ),
            (
                "[builders.\"linux/amd64\"]\ncross = true\n",
                &["builders.\"linux/amd64\".cross", "only linux/arm64"],
            ),
            (
                "[builders.\"windows/amd64\"]\n",
                &["builders.\"windows/amd64\"", "accepted: linux/amd64, linux/arm64"],
            ),
            ("image = \"ghcr.io/Me/App\"\n", &["image", "`Me`", "lowercase"]),
            ("image = \"ghcr.io/me/app:1.0\"\n", &["image", "tag or digest"]),
            ("cache = \"ftp://x\"\n", &["cache", "accepted: cachix:NAME"]),
            ("cache = \"cachix:My_Cache\"\n", &["cache", "lowercase"]),
            ("[variants]\n", &["variants", "at least one"]),
            ("[variants.Dev]\n", &["variants.Dev", "must start with a-z"]),
            ("image = 3\n", &["image", "invalid type"]),
            (
                "builder = \"cargo2nix\"\n",
                &["] builder: ", "unknown builder `cargo2nix`", "accepted: crane, naersk"],
            ),
            ("builder = true\n", &["] builder: ", "invalid type"]),
        ];
        for (input, needles) in cases {
            let message = err(input);
            assert!(message.starts_with("Cargo.toml: "), "{message}");
            for needle in *needles {
                assert!(
                    message.contains(needle),
                    "for input {input:?}: `{message}` lacks `{needle}`"
                );
            }
        }
    }

    #[test]
    fn source_comes_from_the_repository_own_or_inherited() {
        let own = "[package]\nname = \"a\"\nversion = \"0.1.0\"\nrepository = \"https://x/own\"\n";
        let c = parse(Path::new("Cargo.toml"), own).unwrap();
        assert_eq!(c.source.as_deref(), Some("https://x/own"));
        let inherited = "[workspace]\n[workspace.package]\nrepository = \"https://x/ws\"\n\
                         [package]\nname = \"a\"\nversion = \"0.1.0\"\nrepository.workspace = true\n";
        let c = parse(Path::new("Cargo.toml"), inherited).unwrap();
        assert_eq!(c.source.as_deref(), Some("https://x/ws"));
        let explicit =
            format!("{inherited}[workspace.metadata.ship]\nsource = \"https://x/meta\"\n");
        let c = parse(Path::new("Cargo.toml"), &explicit).unwrap();
        assert_eq!(c.source.as_deref(), Some("https://x/meta"));
    }

    #[test]
    fn missing_binary_without_package_is_an_error() {
        let e = parse(Path::new("ws/Cargo.toml"), "[workspace]\n").unwrap_err();
        assert!(e.to_string().contains("ws/Cargo.toml"), "{e}");
        assert!(e.to_string().contains("binary: required"), "{e}");
    }

    #[test]
    fn accepted_images_and_caches() {
        for image in [
            "app",
            "ghcr.io/o/app",
            "localhost:5000/a/b",
            "127.0.0.1:5000/x",
            "Registry.IO/a",
        ] {
            assert!(Repository::parse(image).is_ok(), "{image}");
        }
        for cache in [
            "cachix:ship-demo",
            "file:///tmp/c?compression=zstd",
            "s3://b",
            "ssh-ng://h",
        ] {
            assert!(BinaryCache::parse(cache).is_ok(), "{cache}");
        }
    }
}
