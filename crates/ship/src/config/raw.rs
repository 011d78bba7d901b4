//! `[workspace.metadata.ship]` exactly as written: serde types with every key optional and
//! unknown keys refused, and the defaults of the keys whose default is a whole table. A new key
//! is a field here, then a check in `parse.rs` and a field of [`super::Config`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::build::RawBuild;
use super::checks::RawTests;
use super::runtime::RawRuntime;

/// The table as written; every field optional so a minimal table works.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawShip {
    pub image: Option<String>,
    pub binary: Option<String>,
    pub cache: Option<String>,
    pub source: Option<String>,
    pub default_variant: Option<String>,
    pub variants: Option<BTreeMap<String, RawVariant>>,
    pub builders: Option<BTreeMap<String, RawBuilder>>,
    pub rules: Option<Vec<RawRule>>,
    pub builder: Option<String>,
    pub toolchain: Option<String>,
    pub tests: Option<RawTests>,
    pub build: Option<RawBuild>,
    pub runtime: Option<RawRuntime>,
    pub include: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVariant {
    pub profile: Option<String>,
    pub platforms: Option<Vec<String>>,
    pub build: Option<RawBuild>,
    pub runtime: Option<RawRuntime>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuilder {
    pub runner: Option<String>,
    pub cross: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub tag: Option<String>,
    pub branch: Option<String>,
    pub event: Option<String>,
    #[serde(default)]
    pub semver: bool,
    pub variant: String,
}

pub(super) fn default_variants() -> BTreeMap<String, RawVariant> {
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

pub(super) fn default_rules() -> Vec<RawRule> {
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
