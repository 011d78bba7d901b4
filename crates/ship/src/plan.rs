//! What a run builds and how it is tagged: a pure function of the configuration and the git
//! context, so every rule is unit-tested without git, Nix or a registry.

use serde::Serialize;

use crate::config::{Config, Platform, Rule};
use crate::tags::{self, GitRef};

/// The git context of a run (GITHUB_REF, GITHUB_EVENT_NAME, GITHUB_SHA in Actions).
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub variant: Option<String>,
    pub git_ref: String,
    pub event: String,
    pub sha: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("--variant `{given}`: unknown variant; accepted: {accepted}")]
    UnknownVariant { given: String, accepted: String },
    #[error(transparent)]
    Tag(#[from] tags::TagError),
}

/// One job of the build matrix: a platform and the flake attributes that build it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixEntry {
    pub platform: String,
    pub arch: String,
    /// The Nix system whose `packages` hold `attr` (x86_64-linux for a cross build).
    pub system: String,
    pub runner: String,
    pub cross: bool,
    pub attr: String,
    pub app: String,
    pub deps: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    pub include: Vec<MatrixEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub variant: String,
    /// Why this variant: `--variant`, `rules[N]` or `default-variant`.
    pub selected_by: String,
    pub profile: String,
    pub platforms: Vec<String>,
    pub image: String,
    pub binary: String,
    /// The binary cache, fit to print (secret query parameters and passwords as `***`); the
    /// usable URL stays in the configuration.
    pub cache: Option<String>,
    /// What builds the packages (`builder`): `crane` or `naersk`.
    pub builder: String,
    pub tags: Vec<String>,
    pub matrix: Matrix,
}

/// Flake attribute names for one profile and platform. Native builds live under the
/// platform's own system as `<kind>-<profile>`; cross builds live under x86_64-linux with the
/// architecture appended. nix/lib/attrs.nix implements the same naming.
pub fn attrs(profile: &str, platform: Platform, cross: bool) -> (String, [String; 3]) {
    let (system, suffix) = if cross {
        ("x86_64-linux", format!("-{}", platform.arch()))
    } else {
        (platform.native_system(), String::new())
    };
    let name = |kind: &str| format!("{kind}-{profile}{suffix}");
    (
        system.to_owned(),
        [name("image"), name("app"), name("deps")],
    )
}

/// Glob with `*` (any run of characters, `/` included) and `?` (one character).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn rule_matches(rule: &Rule, git_ref: &GitRef, event: &str) -> bool {
    if let Some(e) = &rule.event {
        if e != event {
            return false;
        }
    }
    if let Some(pattern) = &rule.tag {
        let GitRef::Tag(tag) = git_ref else {
            return false;
        };
        if !glob(pattern, tag) || (rule.semver && tags::semver_of(tag).is_none()) {
            return false;
        }
    }
    if let Some(pattern) = &rule.branch {
        let GitRef::Branch(branch) = git_ref else {
            return false;
        };
        if !glob(pattern, branch) {
            return false;
        }
    }
    true
}

/// The variant the rules pick for this ref and event, and which rule picked it.
fn select(config: &Config, git_ref: &GitRef, event: &str) -> (String, String) {
    config
        .rules
        .iter()
        .enumerate()
        .find(|(_, r)| rule_matches(r, git_ref, event))
        .map(|(i, r)| (r.variant.clone(), format!("rules[{i}]")))
        .unwrap_or_else(|| (config.default_variant.clone(), "default-variant".into()))
}

pub fn plan(config: &Config, ctx: &Context) -> Result<Plan, PlanError> {
    let git_ref = GitRef::parse(&ctx.git_ref);
    let (by_rules, rule) = select(config, &git_ref, &ctx.event);
    let (variant_name, selected_by) = match &ctx.variant {
        Some(v) => (v.clone(), "--variant".to_owned()),
        None => (by_rules.clone(), rule),
    };
    let variant = config
        .variant(&variant_name)
        .ok_or_else(|| PlanError::UnknownVariant {
            given: variant_name.clone(),
            accepted: config.variant_names(),
        })?;
    let sha = Some(ctx.sha.as_str()).filter(|s| !s.is_empty());
    let tags = tags::tags_for(&git_ref, sha, variant_name == by_rules)?;
    let include = variant
        .platforms
        .iter()
        .map(|&platform| {
            let builder = config.builder(platform);
            let (system, [attr, app, deps]) = attrs(&variant.profile, platform, builder.cross);
            MatrixEntry {
                platform: platform.as_str().to_owned(),
                arch: platform.arch().to_owned(),
                system,
                runner: builder.runner,
                cross: builder.cross,
                attr,
                app,
                deps,
            }
        })
        .collect();
    Ok(Plan {
        variant: variant_name,
        selected_by,
        profile: variant.profile.clone(),
        platforms: variant
            .platforms
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        image: config.image.clone(),
        binary: config.binary.clone(),
        cache: config.cache.as_deref().map(crate::nix::redact_url),
        builder: config.builder.to_string(),
        tags,
        matrix: Matrix { include },
    })
}

impl Plan {
    /// `key=value` lines for GITHUB_OUTPUT; lists and the matrix as one-line JSON so a
    /// workflow reads them with fromJSON.
    pub fn github_output(&self) -> Result<String, serde_json::Error> {
        let mut out = String::new();
        let mut line = |k: &str, v: String| {
            out.push_str(k);
            out.push('=');
            out.push_str(&v);
            out.push('\n');
        };
        line("variant", self.variant.clone());
        line("profile", self.profile.clone());
        line("image", self.image.clone());
        line("binary", self.binary.clone());
        line("cache", self.cache.clone().unwrap_or_default());
        line("platforms", serde_json::to_string(&self.platforms)?);
        line("tags", serde_json::to_string(&self.tags)?);
        line("tags-csv", self.tags.join(","));
        line("matrix", serde_json::to_string(&self.matrix)?);
        Ok(out)
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let rows = [
            (
                "variant",
                format!("{} (selected by {})", self.variant, self.selected_by),
            ),
            ("profile", self.profile.clone()),
            ("image", self.image.clone()),
            ("binary", self.binary.clone()),
            (
                "cache",
                self.cache.clone().unwrap_or_else(|| "(none)".into()),
            ),
            ("builder", self.builder.clone()),
            ("platforms", self.platforms.join(", ")),
            (
                "tags",
                if self.tags.is_empty() {
                    "(none)".into()
                } else {
                    self.tags.join(", ")
                },
            ),
        ];
        for (k, v) in rows {
            s.push_str(&format!("{k:<10} {v}\n"));
        }
        s.push_str("\nplatform     system         runner            build   attribute\n");
        for e in &self.matrix.include {
            s.push_str(&format!(
                "{:<12} {:<14} {:<17} {:<7} .#{}\n",
                e.platform,
                e.system,
                e.runner,
                if e.cross { "cross" } else { "native" },
                e.attr
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use std::path::Path;

    fn cfg(extra: &str) -> Config {
        config::parse(Path::new("Cargo.toml"), &config::test_manifest(extra)).unwrap()
    }

    fn ctx(git_ref: &str, event: &str) -> Context {
        Context {
            variant: None,
            git_ref: git_ref.into(),
            event: event.into(),
            sha: "89abcdef0123456789abcdef0123456789abcdef".into(),
        }
    }

    #[test]
    fn default_selection_table() {
        let c = cfg("");
        let cases = [
            ("refs/tags/v1.2.3", "push", "production", "rules[0]"),
            ("refs/tags/v0.3.1", "push", "production", "rules[0]"),
            ("refs/tags/v2.0.0-rc.1", "push", "production", "rules[0]"),
            // `v*` matches but it is not semver, so the semver rule does not apply.
            ("refs/tags/very-early", "push", "dev", "default-variant"),
            ("refs/tags/dev-7", "push", "dev", "rules[1]"),
            ("refs/heads/main", "push", "dev", "default-variant"),
            (
                "refs/heads/feature/Login_page",
                "push",
                "dev",
                "default-variant",
            ),
            (
                "refs/pull/42/merge",
                "pull_request",
                "dev",
                "default-variant",
            ),
            ("", "", "dev", "default-variant"),
        ];
        for (r, e, want, by) in cases {
            let p = plan(&c, &ctx(r, e)).unwrap();
            assert_eq!(
                (p.variant.as_str(), p.selected_by.as_str()),
                (want, by),
                "{r}"
            );
        }
    }

    #[test]
    fn variant_flag_wins_and_withholds_latest_from_a_different_variant() {
        let c = cfg("");
        let mut x = ctx("refs/tags/v1.2.3", "push");
        x.variant = Some("dev".into());
        let p = plan(&c, &x).unwrap();
        assert_eq!(p.variant, "dev");
        assert_eq!(p.selected_by, "--variant");
        assert_eq!(p.tags, ["1.2.3", "1.2", "1", "sha-89abcde"]);
        x.variant = Some("production".into());
        assert!(plan(&c, &x).unwrap().tags.contains(&"latest".to_owned()));
        x.variant = Some("nightly".into());
        assert_eq!(
            plan(&c, &x).unwrap_err().to_string(),
            "--variant `nightly`: unknown variant; accepted: dev, production"
        );
    }

    #[test]
    fn matrix_native_and_cross() {
        let p = plan(&cfg(""), &ctx("refs/tags/v1.0.0", "push")).unwrap();
        let got: Vec<_> = p
            .matrix
            .include
            .iter()
            .map(|e| {
                (
                    e.platform.as_str(),
                    e.system.as_str(),
                    e.runner.as_str(),
                    e.attr.as_str(),
                    e.deps.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "linux/amd64",
                    "x86_64-linux",
                    "ubuntu-24.04",
                    "image-release",
                    "deps-release"
                ),
                (
                    "linux/arm64",
                    "aarch64-linux",
                    "ubuntu-24.04-arm",
                    "image-release",
                    "deps-release"
                ),
            ]
        );
        let cross = cfg("[builders.\"linux/arm64\"]\ncross = true\n");
        let p = plan(&cross, &ctx("refs/tags/v1.0.0", "push")).unwrap();
        let arm = &p.matrix.include[1];
        assert_eq!(
            (
                arm.system.as_str(),
                arm.runner.as_str(),
                arm.cross,
                arm.attr.as_str(),
                arm.app.as_str(),
                arm.deps.as_str()
            ),
            (
                "x86_64-linux",
                "ubuntu-24.04",
                true,
                "image-release-arm64",
                "app-release-arm64",
                "deps-release-arm64"
            )
        );
        let dev = plan(&cfg(""), &ctx("refs/heads/main", "push")).unwrap();
        assert_eq!(dev.platforms, ["linux/amd64"]);
        assert_eq!(dev.matrix.include.len(), 1);
        assert_eq!(dev.matrix.include[0].attr, "image-dev");
    }

    #[test]
    fn custom_rules_match_events_and_branches_in_order() {
        let c = cfg(
            "[[rules]]\nevent = \"workflow_dispatch\"\nvariant = \"production\"\n\
             [[rules]]\nbranch = \"release/*\"\nvariant = \"production\"\n\
             [[rules]]\nevent = \"pull_request\"\nvariant = \"dev\"\n",
        );
        let cases = [
            (
                "refs/heads/main",
                "workflow_dispatch",
                "production",
                "rules[0]",
            ),
            ("refs/heads/release/2.x", "push", "production", "rules[1]"),
            ("refs/heads/releases", "push", "dev", "default-variant"),
            ("refs/pull/3/merge", "pull_request", "dev", "rules[2]"),
            // Custom rules replace the defaults, so v* is no longer special.
            ("refs/tags/v1.0.0", "push", "dev", "default-variant"),
        ];
        for (r, e, want, by) in cases {
            let p = plan(&c, &ctx(r, e)).unwrap();
            assert_eq!(
                (p.variant.as_str(), p.selected_by.as_str()),
                (want, by),
                "{r} {e}"
            );
        }
    }

    #[test]
    fn globs() {
        for (p, t, want) in [
            ("v*", "v1", true),
            ("v*", "x1", false),
            ("*", "", true),
            ("dev-?", "dev-7", true),
            ("dev-?", "dev-77", false),
            ("release/*/rc", "release/a/b/rc", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
        ] {
            assert_eq!(glob(p, t), want, "{p} ~ {t}");
        }
    }

    #[test]
    fn the_cache_is_shown_without_secrets() {
        let c = cfg("cache = \"s3://bucket?secret-key=/run/keys/cache.sec&region=eu\"\n");
        let p = plan(&c, &ctx("refs/heads/main", "push")).unwrap();
        assert_eq!(
            p.cache.as_deref(),
            Some("s3://bucket?secret-key=***&region=eu")
        );
        assert!(!p.table().contains("/run/keys"));
        assert!(!p.github_output().unwrap().contains("/run/keys"));
    }

    #[test]
    fn the_builder_is_named_in_the_table_and_the_json() {
        let ctx = ctx("refs/heads/main", "push");
        let crane = plan(&cfg(""), &ctx).unwrap();
        let naersk = plan(&cfg("builder = \"naersk\"\n"), &ctx).unwrap();
        assert!(
            crane.table().contains("\nbuilder    crane\n"),
            "{}",
            crane.table()
        );
        assert!(
            naersk.table().contains("\nbuilder    naersk\n"),
            "{}",
            naersk.table()
        );
        let json = serde_json::to_value(&naersk).unwrap();
        assert_eq!(json["builder"], "naersk");
        // The builder changes how a package is built, never what is built where.
        assert_eq!(naersk.matrix, crane.matrix);
    }

    #[test]
    fn github_output_is_one_line_per_key() {
        let p = plan(&cfg(""), &ctx("refs/tags/v1.2.3", "push")).unwrap();
        let out = p.github_output().unwrap();
        let keys: Vec<_> = out.lines().map(|l| l.split_once('=').unwrap().0).collect();
        assert_eq!(
            keys,
            [
                "variant",
                "profile",
                "image",
                "binary",
                "cache",
                "platforms",
                "tags",
                "tags-csv",
                "matrix"
            ]
        );
        let matrix = out.lines().find_map(|l| l.strip_prefix("matrix=")).unwrap();
        let m: serde_json::Value = serde_json::from_str(matrix).unwrap();
        assert_eq!(m["include"].as_array().unwrap().len(), 2);
    }
}
