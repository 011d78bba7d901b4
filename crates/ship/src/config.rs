//! `[workspace.metadata.ship]`: the one table Nix (nix/lib/config.nix) and `ship` both read.
//! Defaults and validation rules here must match that file; `nix/tests` checks they agree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod build;
mod checks;
mod problem;
mod runtime;
pub use build::Build;
pub use checks::{Tests, Toolchain};
use problem::Problem;
pub use runtime::Runtime;

/// The platforms the flake knows how to build; anything else is refused up front.
pub const PLATFORMS: &[&str] = &["linux/amd64", "linux/arm64"];
/// Cargo's built-in profiles, always accepted without a `[profile.NAME]` table.
const BUILTIN_PROFILES: &[&str] = &["dev", "release", "test", "bench"];

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

/// The table as written; every field optional so a minimal table works.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawShip {
    image: Option<String>,
    binary: Option<String>,
    cache: Option<String>,
    source: Option<String>,
    default_variant: Option<String>,
    variants: Option<BTreeMap<String, RawVariant>>,
    builders: Option<BTreeMap<String, RawBuilder>>,
    rules: Option<Vec<RawRule>>,
    builder: Option<String>,
    toolchain: Option<String>,
    tests: Option<checks::RawTests>,
    build: Option<build::RawBuild>,
    runtime: Option<runtime::RawRuntime>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    profile: Option<String>,
    platforms: Option<Vec<String>>,
    build: Option<build::RawBuild>,
    runtime: Option<runtime::RawRuntime>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuilder {
    runner: Option<String>,
    cross: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    tag: Option<String>,
    branch: Option<String>,
    event: Option<String>,
    #[serde(default)]
    semver: bool,
    variant: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    pub profile: String,
    pub platforms: Vec<Platform>,
    pub build: Build,
    pub runtime: Runtime,
}

/// `linux/amd64` or `linux/arm64`, the only two the flake builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    Amd64,
    Arm64,
}

impl Platform {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "linux/amd64" => Some(Self::Amd64),
            "linux/arm64" => Some(Self::Arm64),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Amd64 => "linux/amd64",
            Self::Arm64 => "linux/arm64",
        }
    }
    /// The OCI `os` value (every platform ship builds is Linux).
    pub fn os(self) -> &'static str {
        "linux"
    }
    /// The platform an image config's `os` and `architecture` describe, if ship builds it.
    pub fn from_os_arch(os: &str, arch: &str) -> Option<Self> {
        match (os, arch) {
            ("linux", "amd64") => Some(Self::Amd64),
            ("linux", "arm64") => Some(Self::Arm64),
            _ => None,
        }
    }
    /// The OCI `architecture` value.
    pub fn arch(self) -> &'static str {
        match self {
            Self::Amd64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }
    /// The Nix system that builds this platform natively.
    pub fn native_system(self) -> &'static str {
        match self {
            Self::Amd64 => "x86_64-linux",
            Self::Arm64 => "aarch64-linux",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

fn default_variants() -> BTreeMap<String, RawVariant> {
    BTreeMap::from([
        (
            "dev".to_owned(),
            RawVariant {
                profile: Some("dev".into()),
                platforms: Some(vec!["linux/amd64".into()]),
                ..RawVariant::default()
            },
        ),
        (
            "production".to_owned(),
            RawVariant {
                profile: Some("release".into()),
                platforms: Some(vec!["linux/amd64".into(), "linux/arm64".into()]),
                ..RawVariant::default()
            },
        ),
    ])
}

fn default_rules() -> Vec<RawRule> {
    vec![
        RawRule {
            tag: Some("v*".into()),
            branch: None,
            event: None,
            semver: true,
            variant: "production".into(),
        },
        RawRule {
            tag: Some("dev-*".into()),
            branch: None,
            event: None,
            semver: false,
            variant: "dev".into(),
        },
    ]
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
    Ok(config)
}

fn invalid_at(path: &Path, problem: Problem) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        key: problem.key,
        message: problem.message,
    }
}

/// Parses and validates a manifest's text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let manifest = cargo_toml::Manifest::<toml::Value>::from_slice_with_metadata(text.as_bytes())
        .map_err(|e| ConfigError::Manifest {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        key: key.to_owned(),
        message,
    };

    let ship_value = manifest
        .workspace
        .as_ref()
        .and_then(|w| w.metadata.as_ref())
        .and_then(|m| m.get("ship"))
        .cloned();
    let raw: RawShip = match ship_value {
        None => RawShip::default(),
        Some(value) => serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." {
                "(table)".to_owned()
            } else {
                key
            };
            invalid(&key, e.into_inner().to_string())
        })?,
    };

    let package_name = manifest.package.as_ref().map(|p| p.name.clone());
    let binary = match (raw.binary, package_name.clone()) {
        (Some(b), _) => b,
        (None, Some(p)) => p,
        (None, None) => {
            return Err(invalid(
                "binary",
                "required when the workspace has no root [package] to take the name from".into(),
            ))
        }
    };
    if binary.is_empty() || binary.contains('/') {
        return Err(invalid(
            "binary",
            format!("`{binary}` is not a binary name (non-empty, no `/`)"),
        ));
    }
    let image = raw.image.unwrap_or_else(|| binary.clone());
    validate_image(&image).map_err(|m| invalid("image", m))?;
    // `repository.workspace = true` is inherited from [workspace.package], as cargo (and
    // nix/lib/config.nix) resolve it; from_slice does not resolve inheritance itself.
    let source = raw.source.or_else(|| {
        let repository = manifest.package.as_ref()?.repository.as_ref()?;
        match repository.get() {
            Ok(own) => Some(own.clone()),
            Err(_) => manifest
                .workspace
                .as_ref()?
                .package
                .as_ref()?
                .repository
                .clone(),
        }
    });
    let cache = match raw.cache {
        Some(c) if c.is_empty() => None,
        Some(c) => {
            validate_cache(&c).map_err(|m| invalid("cache", m))?;
            Some(c)
        }
        None => None,
    };
    let builder = parse_builder(raw.builder.as_deref()).map_err(|m| invalid("builder", m))?;

    let problem = |p: Problem| invalid(&p.key, p.message);
    let toolchain = checks::toolchain(raw.toolchain).map_err(problem)?;
    let tests = raw.tests.unwrap_or_default().resolve().map_err(problem)?;
    let base_build = raw.build.unwrap_or_default();
    let base_runtime = raw.runtime.unwrap_or_default();
    // The top-level tables on their own first, so a bad value there is named there.
    base_build.clone().resolve("build").map_err(problem)?;
    base_runtime
        .clone()
        .resolve("runtime", &binary)
        .map_err(problem)?;

    let custom_profiles: Vec<String> = manifest.profile.custom.keys().cloned().collect();
    let mut variants = BTreeMap::new();
    let raw_variants = raw.variants.unwrap_or_else(default_variants);
    if raw_variants.is_empty() {
        return Err(invalid("variants", "at least one variant is needed".into()));
    }
    for (name, rv) in raw_variants {
        validate_name(&name)
            .map_err(|m| invalid(&format!("variants.{name}"), format!("variant name {m}")))?;
        let profile = rv.profile.unwrap_or_else(|| "release".into());
        if !BUILTIN_PROFILES.contains(&profile.as_str()) && !custom_profiles.contains(&profile) {
            let mut accepted: Vec<&str> = BUILTIN_PROFILES.to_vec();
            accepted.extend(custom_profiles.iter().map(String::as_str));
            return Err(invalid(
                &format!("variants.{name}.profile"),
                format!(
                    "unknown cargo profile `{profile}`; accepted: {} (or add [profile.{profile}])",
                    accepted.join(", ")
                ),
            ));
        }
        let raw_platforms = rv.platforms.unwrap_or_else(|| vec!["linux/amd64".into()]);
        if raw_platforms.is_empty() {
            return Err(invalid(
                &format!("variants.{name}.platforms"),
                format!("empty; accepted: {}", PLATFORMS.join(", ")),
            ));
        }
        let mut platforms = Vec::new();
        for (i, p) in raw_platforms.iter().enumerate() {
            let key = format!("variants.{name}.platforms[{i}]");
            let platform = Platform::parse(p).ok_or_else(|| {
                invalid(
                    &key,
                    format!("unknown platform `{p}`; accepted: {}", PLATFORMS.join(", ")),
                )
            })?;
            if platforms.contains(&platform) {
                return Err(invalid(&key, format!("duplicate platform `{p}`")));
            }
            platforms.push(platform);
        }
        let build = rv
            .build
            .map_or_else(|| base_build.clone(), |b| b.over(&base_build))
            .resolve(&format!("variants.{name}.build"))
            .map_err(problem)?;
        let runtime = rv
            .runtime
            .map_or_else(|| base_runtime.clone(), |r| r.over(&base_runtime))
            .resolve(&format!("variants.{name}.runtime"), &binary)
            .map_err(problem)?;
        variants.insert(
            name.clone(),
            Variant {
                name,
                profile,
                platforms,
                build,
                runtime,
            },
        );
    }
    same_profile_same_settings(&variants).map_err(problem)?;
    let names = variants.keys().cloned().collect::<Vec<_>>().join(", ");
    let known = |key: &str, v: &str| {
        if variants.contains_key(v) {
            Ok(())
        } else {
            Err(invalid(
                key,
                format!("unknown variant `{v}`; accepted: {names}"),
            ))
        }
    };

    let default_variant = raw.default_variant.unwrap_or_else(|| "dev".into());
    known("default-variant", &default_variant)?;

    let mut builders = BTreeMap::new();
    for (p, rb) in raw.builders.unwrap_or_default() {
        let key = format!("builders.\"{p}\"");
        let platform = Platform::parse(&p).ok_or_else(|| {
            invalid(
                &key,
                format!("unknown platform `{p}`; accepted: {}", PLATFORMS.join(", ")),
            )
        })?;
        let default = default_builder(platform);
        let cross = rb.cross.unwrap_or(default.cross);
        if cross && platform != Platform::Arm64 {
            return Err(invalid(
                &format!("{key}.cross"),
                "only linux/arm64 can be cross-compiled (on x86_64-linux); accepted: false".into(),
            ));
        }
        let runner = rb.runner.unwrap_or(if cross {
            default_builder(Platform::Amd64).runner
        } else {
            default.runner
        });
        if runner.trim().is_empty() {
            return Err(invalid(
                &format!("{key}.runner"),
                "empty; name a GitHub runner label such as ubuntu-24.04".into(),
            ));
        }
        builders.insert(platform, Builder { runner, cross });
    }

    let mut rules = Vec::new();
    for (i, rr) in raw
        .rules
        .unwrap_or_else(default_rules)
        .into_iter()
        .enumerate()
    {
        let key = format!("rules[{i}]");
        known(&format!("{key}.variant"), &rr.variant)?;
        if rr.tag.is_none() && rr.branch.is_none() && rr.event.is_none() {
            return Err(invalid(
                &key,
                "matches everything; give at least one of tag, branch, event (or use default-variant)"
                    .into(),
            ));
        }
        if rr.tag.is_some() && rr.branch.is_some() {
            return Err(invalid(
                &key,
                "a ref is a tag or a branch, never both: give tag or branch".into(),
            ));
        }
        if rr.semver && rr.tag.is_none() {
            return Err(invalid(
                &format!("{key}.semver"),
                "applies to tags only: add tag = \"v*\" or drop semver".into(),
            ));
        }
        rules.push(Rule {
            tag: rr.tag,
            branch: rr.branch,
            event: rr.event,
            semver: rr.semver,
            variant: rr.variant,
        });
    }

    Ok(Config {
        image,
        binary,
        cache,
        source,
        default_variant,
        variants,
        builders,
        rules,
        builder,
        toolchain,
        tests,
    })
}

fn parse_builder(builder: Option<&str>) -> Result<NixBuilder, String> {
    let Some(name) = builder else {
        return Ok(NixBuilder::default());
    };
    NixBuilder::ALL
        .into_iter()
        .find(|b| b.as_str() == name)
        .ok_or_else(|| {
            let accepted: Vec<&str> = NixBuilder::ALL.iter().map(|b| b.as_str()).collect();
            format!(
                "unknown builder `{name}`; accepted: {}",
                accepted.join(", ")
            )
        })
}

/// The flake builds one deps, app and image per cargo profile, so variants sharing a profile
/// must agree on what goes into them.
fn same_profile_same_settings(variants: &BTreeMap<String, Variant>) -> Result<(), Problem> {
    for (i, (name, v)) in variants.iter().enumerate() {
        if let Some((first, _)) = variants
            .iter()
            .take(i)
            .find(|(_, w)| w.profile == v.profile && (w.build != v.build || w.runtime != v.runtime))
        {
            return Err(Problem::new(
                format!("variants.{name}"),
                format!(
                    "uses profile `{}` as variant `{first}` does, with other build or runtime settings; \
                     the flake builds one image per profile: give it its own profile or the same settings",
                    v.profile
                ),
            ));
        }
    }
    Ok(())
}

fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` must start with a-z and contain only a-z, 0-9 and -"
        ))
    }
}

/// An image reference without tag or digest: `[registry/]path`, lowercase path components.
fn validate_image(image: &str) -> Result<(), String> {
    if image.is_empty() {
        return Err("empty; give a repository such as ghcr.io/OWNER/NAME".into());
    }
    if image.contains('@')
        || image
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        return Err(format!(
            "`{image}` has a tag or digest; give the repository only, e.g. ghcr.io/OWNER/NAME"
        ));
    }
    let mut parts = image.split('/').collect::<Vec<_>>();
    // A first component with a dot, a colon or `localhost` is a registry host, which may have
    // uppercase letters and a port; the path after it may not.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        parts.remove(0);
    }
    for part in parts {
        let ok = !part.is_empty()
            && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !ok {
            return Err(format!(
                "`{image}`: path component `{part}` must be lowercase a-z, 0-9 and . _ - \
                 (starting and ending with a letter or digit)"
            ));
        }
    }
    Ok(())
}

/// `cachix:NAME` or a store URL `nix copy --to` understands.
fn validate_cache(cache: &str) -> Result<(), String> {
    const SCHEMES: &[&str] = &[
        "file://",
        "s3://",
        "http://",
        "https://",
        "ssh://",
        "ssh-ng://",
    ];
    if let Some(name) = cache.strip_prefix("cachix:") {
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Ok(());
        }
        return Err(format!(
            "`{cache}`: cachix cache names are lowercase a-z, 0-9 and -"
        ));
    }
    if SCHEMES.iter().any(|s| cache.starts_with(s)) {
        return Ok(());
    }
    Err(format!(
        "`{cache}` is not a binary cache; accepted: cachix:NAME or a store URL ({})",
        SCHEMES
            .iter()
            .map(|s| format!("{s}…"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
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
            assert_eq!(validate_image(image), Ok(()), "{image}");
        }
        for cache in [
            "cachix:ship-demo",
            "file:///tmp/c?compression=zstd",
            "s3://b",
            "ssh-ng://h",
        ] {
            assert_eq!(validate_cache(cache), Ok(()), "{cache}");
        }
    }
}
