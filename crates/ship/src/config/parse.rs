//! From the raw table to a checked [`Config`]: each key's rule, every error naming the key
//! and what would be accepted. nix/lib/config.nix applies the same rules.

use std::collections::BTreeMap;
use std::path::Path;

use super::build::RawBuild;
use super::raw::{default_rules, default_variants, RawBuilder, RawRule, RawShip, RawVariant};
use super::runtime::RawRuntime;
use super::{
    checks, default_builder, source, Builder, Config, ConfigError, NixBuilder, Problem, Rule,
    Variant,
};
use crate::cache::BinaryCache;
use crate::platform::{Platform, PLATFORMS};
use crate::registry::Repository;

type Manifest = cargo_toml::Manifest<toml::Value>;

/// Cargo's built-in profiles, always accepted without a `[profile.NAME]` table.
const BUILTIN_PROFILES: &[&str] = &["dev", "release", "test", "bench"];

/// Makes errors that name the manifest and the key.
struct Keys<'a> {
    path: &'a Path,
}

impl Keys<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn problem(&self, problem: Problem) -> ConfigError {
        self.invalid(&problem.key, problem.message)
    }
}

/// The top-level `build` and `runtime` tables, each variant's own laid over them.
struct BaseSettings<'a> {
    build: RawBuild,
    runtime: RawRuntime,
    binary: &'a str,
}

/// Parses and validates a manifest's text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let manifest =
        Manifest::from_slice_with_metadata(text.as_bytes()).map_err(|e| ConfigError::Manifest {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let keys = Keys { path };
    let raw = raw_table(&manifest, &keys)?;

    let binary = binary(raw.binary, &manifest, &keys)?;
    let image = raw.image.unwrap_or_else(|| binary.clone());
    Repository::parse(&image).map_err(|e| keys.invalid("image", e.to_string()))?;
    let source = raw.source.or_else(|| repository_of(&manifest));
    let cache = match raw.cache {
        Some(c) if c.is_empty() => None,
        Some(c) => {
            BinaryCache::parse(&c).map_err(|e| keys.invalid("cache", e.to_string()))?;
            Some(c)
        }
        None => None,
    };
    let builder = parse_builder(raw.builder.as_deref()).map_err(|m| keys.invalid("builder", m))?;
    let toolchain = checks::toolchain(raw.toolchain).map_err(|p| keys.problem(p))?;
    let tests = raw
        .tests
        .unwrap_or_default()
        .resolve()
        .map_err(|p| keys.problem(p))?;
    let include = source::include(raw.include).map_err(|p| keys.problem(p))?;
    let base = BaseSettings {
        build: raw.build.unwrap_or_default(),
        runtime: raw.runtime.unwrap_or_default(),
        binary: &binary,
    };
    // The top-level tables on their own first, so a bad value there is named there.
    base.build
        .clone()
        .resolve("build")
        .map_err(|p| keys.problem(p))?;
    base.runtime
        .clone()
        .resolve("runtime", base.binary)
        .map_err(|p| keys.problem(p))?;

    let custom_profiles: Vec<String> = manifest.profile.custom.keys().cloned().collect();
    let variants = variants(
        raw.variants.unwrap_or_else(default_variants),
        &custom_profiles,
        &base,
        &keys,
    )?;
    same_profile_same_settings(&variants).map_err(|p| keys.problem(p))?;
    let default_variant = raw.default_variant.unwrap_or_else(|| "dev".into());
    known_variant(&variants, "default-variant", &default_variant, &keys)?;
    let builders = builders(raw.builders.unwrap_or_default(), &keys)?;
    let rules = rules(raw.rules.unwrap_or_else(default_rules), &variants, &keys)?;
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
        include,
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

/// `[workspace.metadata.ship]` as written (empty when absent), unknown keys refused.
fn raw_table(manifest: &Manifest, keys: &Keys<'_>) -> Result<RawShip, ConfigError> {
    let value = manifest
        .workspace
        .as_ref()
        .and_then(|w| w.metadata.as_ref())
        .and_then(|m| m.get("ship"))
        .cloned();
    match value {
        None => Ok(RawShip::default()),
        Some(value) => serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." {
                "(table)".to_owned()
            } else {
                key
            };
            keys.invalid(&key, e.into_inner().to_string())
        }),
    }
}

/// `binary`, or else the root package's name.
fn binary(
    given: Option<String>,
    manifest: &Manifest,
    keys: &Keys<'_>,
) -> Result<String, ConfigError> {
    let binary = match (given, manifest.package.as_ref()) {
        (Some(b), _) => b,
        (None, Some(p)) => p.name.clone(),
        (None, None) => {
            return Err(keys.invalid(
                "binary",
                "required when the workspace has no root [package] to take the name from",
            ))
        }
    };
    if binary.is_empty() || binary.contains('/') {
        return Err(keys.invalid(
            "binary",
            format!("`{binary}` is not a binary name (non-empty, no `/`)"),
        ));
    }
    Ok(binary)
}

/// The root package's `repository`. `repository.workspace = true` is inherited from
/// [workspace.package], as cargo (and nix/lib/config.nix) resolve it; from_slice does not
/// resolve inheritance itself.
fn repository_of(manifest: &Manifest) -> Option<String> {
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
}

fn variants(
    raw: BTreeMap<String, RawVariant>,
    custom_profiles: &[String],
    base: &BaseSettings<'_>,
    keys: &Keys<'_>,
) -> Result<BTreeMap<String, Variant>, ConfigError> {
    if raw.is_empty() {
        return Err(keys.invalid("variants", "at least one variant is needed"));
    }
    let mut variants = BTreeMap::new();
    for (name, rv) in raw {
        validate_name(&name)
            .map_err(|m| keys.invalid(&format!("variants.{name}"), format!("variant name {m}")))?;
        let profile = rv.profile.unwrap_or_else(|| "release".into());
        if !BUILTIN_PROFILES.contains(&profile.as_str()) && !custom_profiles.contains(&profile) {
            let mut accepted: Vec<&str> = BUILTIN_PROFILES.to_vec();
            accepted.extend(custom_profiles.iter().map(String::as_str));
            return Err(keys.invalid(
                &format!("variants.{name}.profile"),
                format!(
                    "unknown cargo profile `{profile}`; accepted: {} (or add [profile.{profile}])",
                    accepted.join(", ")
                ),
            ));
        }
        let platforms = platforms(
            rv.platforms.unwrap_or_else(|| vec!["linux/amd64".into()]),
            &format!("variants.{name}.platforms"),
            keys,
        )?;
        let build = rv
            .build
            .map_or_else(|| base.build.clone(), |b| b.over(&base.build))
            .resolve(&format!("variants.{name}.build"))
            .map_err(|p| keys.problem(p))?;
        let runtime = rv
            .runtime
            .map_or_else(|| base.runtime.clone(), |r| r.over(&base.runtime))
            .resolve(&format!("variants.{name}.runtime"), base.binary)
            .map_err(|p| keys.problem(p))?;
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
    Ok(variants)
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

/// A variant's platforms: at least one, each known, none twice.
fn platforms(raw: Vec<String>, key: &str, keys: &Keys<'_>) -> Result<Vec<Platform>, ConfigError> {
    if raw.is_empty() {
        return Err(keys.invalid(key, format!("empty; accepted: {}", PLATFORMS.join(", "))));
    }
    let mut platforms = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let key = format!("{key}[{i}]");
        let platform = Platform::parse(p).map_err(|e| keys.invalid(&key, e.to_string()))?;
        if platforms.contains(&platform) {
            return Err(keys.invalid(&key, format!("duplicate platform `{p}`")));
        }
        platforms.push(platform);
    }
    Ok(platforms)
}

fn known_variant(
    variants: &BTreeMap<String, Variant>,
    key: &str,
    v: &str,
    keys: &Keys<'_>,
) -> Result<(), ConfigError> {
    if variants.contains_key(v) {
        return Ok(());
    }
    let names = variants.keys().cloned().collect::<Vec<_>>().join(", ");
    Err(keys.invalid(key, format!("unknown variant `{v}`; accepted: {names}")))
}

fn builders(
    raw: BTreeMap<String, RawBuilder>,
    keys: &Keys<'_>,
) -> Result<BTreeMap<Platform, Builder>, ConfigError> {
    let mut builders = BTreeMap::new();
    for (p, rb) in raw {
        let key = format!("builders.\"{p}\"");
        let platform = Platform::parse(&p).map_err(|e| keys.invalid(&key, e.to_string()))?;
        let default = default_builder(platform);
        let cross = rb.cross.unwrap_or(default.cross);
        if cross && platform != Platform::Arm64 {
            return Err(keys.invalid(
                &format!("{key}.cross"),
                "only linux/arm64 can be cross-compiled (on x86_64-linux); accepted: false",
            ));
        }
        let runner = rb.runner.unwrap_or(if cross {
            default_builder(Platform::Amd64).runner
        } else {
            default.runner
        });
        if runner.trim().is_empty() {
            return Err(keys.invalid(
                &format!("{key}.runner"),
                "empty; name a GitHub runner label such as ubuntu-24.04",
            ));
        }
        builders.insert(platform, Builder { runner, cross });
    }
    Ok(builders)
}

fn rules(
    raw: Vec<RawRule>,
    variants: &BTreeMap<String, Variant>,
    keys: &Keys<'_>,
) -> Result<Vec<Rule>, ConfigError> {
    let mut rules = Vec::new();
    for (i, rr) in raw.into_iter().enumerate() {
        let key = format!("rules[{i}]");
        known_variant(variants, &format!("{key}.variant"), &rr.variant, keys)?;
        if rr.tag.is_none() && rr.branch.is_none() && rr.event.is_none() {
            return Err(keys.invalid(
                &key,
                "matches everything; give at least one of tag, branch, event (or use default-variant)",
            ));
        }
        if rr.tag.is_some() && rr.branch.is_some() {
            return Err(keys.invalid(
                &key,
                "a ref is a tag or a branch, never both: give tag or branch",
            ));
        }
        if rr.semver && rr.tag.is_none() {
            return Err(keys.invalid(
                &format!("{key}.semver"),
                "applies to tags only: add tag = \"v*\" or drop semver",
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
    Ok(rules)
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
