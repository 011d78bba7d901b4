//! `build` (top level and per variant): what the crane builds need besides cargo, as nixpkgs
//! attribute paths and environment variables. nix/lib/build-settings.nix reads the same keys;
//! both deps and app derivations get them, so they never differ between the two.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Problem;

/// The `build` table as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawBuild {
    native_build_inputs: Option<Vec<String>>,
    build_inputs: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
}

/// What a variant's builds get, after its own `build` table is laid over the top-level one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Build {
    /// Tools that run during the build (build platform), e.g. `clang`, `pkg-config`.
    pub native_build_inputs: Vec<String>,
    /// Libraries for the platform the binary runs on, e.g. `openssl`.
    pub build_inputs: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// Set by ship itself on the builds; a `build.env` entry must not fight them.
const RESERVED_ENV: &[&str] = &["CARGO_PROFILE", "SHIP_GIT_REV", "CARGO_BUILD_TARGET"];

impl RawBuild {
    /// `self` (a variant's table) over `base` (the top-level one): a key given here replaces
    /// the base's, except `env`, whose variables are added to (and override) the base's.
    pub(super) fn over(&self, base: &RawBuild) -> RawBuild {
        RawBuild {
            native_build_inputs: self
                .native_build_inputs
                .clone()
                .or_else(|| base.native_build_inputs.clone()),
            build_inputs: self
                .build_inputs
                .clone()
                .or_else(|| base.build_inputs.clone()),
            env: merge_maps(&base.env, &self.env),
        }
    }

    /// Validates every key; `key` is the table's own key (`build`, `variants.NAME.build`).
    pub(super) fn resolve(self, key: &str) -> Result<Build, Problem> {
        let native_build_inputs = attr_paths(
            &format!("{key}.native-build-inputs"),
            self.native_build_inputs,
        )?;
        let build_inputs = attr_paths(&format!("{key}.build-inputs"), self.build_inputs)?;
        let env = self.env.unwrap_or_default();
        for name in env.keys() {
            env_name(&format!("{key}.env.{name}"), name)?;
            if RESERVED_ENV.contains(&name.as_str()) {
                return Err(Problem::new(
                    format!("{key}.env.{name}"),
                    format!(
                        "`{name}` is set by ship itself; reserved: {}",
                        RESERVED_ENV.join(", ")
                    ),
                ));
            }
        }
        Ok(Build {
            native_build_inputs,
            build_inputs,
            env,
        })
    }
}

pub(super) fn merge_maps(
    base: &Option<BTreeMap<String, String>>,
    over: &Option<BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    match (base, over) {
        (None, None) => None,
        (b, o) => {
            let mut merged = b.clone().unwrap_or_default();
            merged.extend(o.clone().unwrap_or_default());
            Some(merged)
        }
    }
}

/// A nixpkgs attribute path: identifiers joined by dots (`openssl`, `llvmPackages.lld`).
pub(super) fn is_attr_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-'".contains(c))
        })
}

/// Every element an attribute path, listed once.
pub(super) fn attr_paths(key: &str, list: Option<Vec<String>>) -> Result<Vec<String>, Problem> {
    let list = list.unwrap_or_default();
    for (i, attr) in list.iter().enumerate() {
        let key = format!("{key}[{i}]");
        if !is_attr_path(attr) {
            return Err(Problem::new(
                key,
                format!("`{attr}` is not a nixpkgs attribute path; accepted: names such as `openssl` or `llvmPackages.lld`"),
            ));
        }
        if list[..i].contains(attr) {
            return Err(Problem::new(key, format!("duplicate `{attr}`")));
        }
    }
    Ok(list)
}

/// A POSIX environment variable name.
pub(super) fn env_name(key: &str, name: &str) -> Result<(), Problem> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            key,
            format!("`{name}` is not an environment variable name; accepted: A-Z, a-z, 0-9 and _, not starting with a digit"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{parse, test_manifest, Config};

    fn cfg(ship: &str) -> Config {
        parse(Path::new("Cargo.toml"), &test_manifest(ship)).expect("accepted")
    }
    fn err(ship: &str) -> String {
        parse(Path::new("Cargo.toml"), &test_manifest(ship))
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn build_keys_reach_every_variant_and_a_variant_table_overrides() {
        let c = cfg("[build]\nnative-build-inputs = [\"clang\", \"llvmPackages.lld\", \"pkg-config\"]\n\
             build-inputs = [\"openssl\"]\nenv = { SQLX_OFFLINE = \"true\", RUSTFLAGS = \"-C x\" }\n\
             [variants.dev]\nprofile = \"dev\"\nbuild = { build-inputs = [], env = { RUSTFLAGS = \"\" } }\n\
             [variants.production]\n");
        let prod = &c.variants["production"].build;
        assert_eq!(
            prod.native_build_inputs,
            ["clang", "llvmPackages.lld", "pkg-config"]
        );
        assert_eq!(prod.build_inputs, ["openssl"]);
        assert_eq!(prod.env["SQLX_OFFLINE"], "true");
        let dev = &c.variants["dev"].build;
        assert_eq!(dev.native_build_inputs, prod.native_build_inputs);
        assert!(dev.build_inputs.is_empty());
        assert_eq!(dev.env["SQLX_OFFLINE"], "true");
        assert_eq!(dev.env["RUSTFLAGS"], "");
        assert_eq!(cfg("").variants["dev"].build, super::Build::default());
    }

    #[test]
    fn bad_build_values_name_the_key() {
        for (input, needles) in [
            (
                "[build]\nnative-build-inputs = [\"clang\", \"pkgs/clang\"]\n",
                &[
                    "build.native-build-inputs[1]",
                    "`pkgs/clang`",
                    "llvmPackages.lld",
                ][..],
            ),
            (
                "[build]\nbuild-inputs = [\"openssl\", \"openssl\"]\n",
                &["build.build-inputs[1]", "duplicate"],
            ),
            (
                "[build]\nbuild-inputs = \"openssl\"\n",
                &["build.build-inputs", "invalid type"],
            ),
            (
                "[build]\nenv = { \"1X\" = \"y\" }\n",
                &["build.env.1X", "not an environment variable name"],
            ),
            (
                "[build]\nenv = { CARGO_PROFILE = \"y\" }\n",
                &["build.env.CARGO_PROFILE", "reserved"],
            ),
            (
                "[build]\nenv = { X = 1 }\n",
                &["build.env.X", "invalid type"],
            ),
            (
                "[build]\ncc = \"clang\"\n",
                &["build", "unknown field `cc`", "native-build-inputs"],
            ),
            (
                "[variants.dev]\nbuild = { env = { \"A-B\" = \"\" } }\n",
                &["variants.dev.build.env.A-B", "environment variable"],
            ),
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
