//! The files `ship init` writes besides the table: the flake (the text the flake library's
//! contract fixes) and the two workflows, embedded in the binary. The workflows are this
//! repository's own (minus ship.yml's repo-only `test` job); crates/ship/tests/workflows.rs
//! checks that the repository's files are what these render for its Cargo.toml.

use crate::config::Config;

const FLAKE: &str = include_str!("templates/flake.nix");
const CI: &str = include_str!("templates/ship.yml");
const RELEASE: &str = include_str!("templates/ship-release.yml");

/// Tag globs ship-release.yml triggers on when no rule names a tag.
const FALLBACK_TAGS: &[&str] = &["v*"];

/// `flake.nix` for a workspace whose images are named after `name`.
pub fn flake(name: &str) -> String {
    FLAKE.replace("@NAME@", name)
}

/// `.github/workflows/ship.yml`, run on pull requests and on pushes to `branch` (the default
/// branch); nothing in it depends on the configuration. `subdir`: see [`working_directory`].
pub fn ci(branch: &str, subdir: Option<&str>) -> String {
    CI.replace("@BRANCH@", &yaml_scalar(branch))
        .replace("@WORKING_DIRECTORY@", &working_directory(subdir))
}

/// The workflows' `defaults.run` line for a workspace in `subdir` of its repository (GitHub
/// reads workflows only at the repository's top): every `run` step, which reads ./Cargo.toml
/// and builds `.#…`, then runs in the workspace. Nothing for a workspace at the top.
fn working_directory(subdir: Option<&str>) -> String {
    match subdir {
        None => String::new(),
        Some(d) => format!(
            "    # The workspace's directory in the repository.\n    working-directory: {}\n",
            yaml_scalar(d)
        ),
    }
}

/// `.github/workflows/ship-release.yml` for a configuration: a manual run offers its variants
/// (default: `default-variant`), and a push of any tag a rule names starts a release.
/// `subdir`: see [`working_directory`].
pub fn release(config: &Config, subdir: Option<&str>) -> String {
    let variants: Vec<String> = config.variants.keys().map(|v| yaml_scalar(v)).collect();
    let mut tags: Vec<String> = Vec::new();
    for tag in config.rules.iter().filter_map(|r| r.tag.as_deref()) {
        let q = json_string(tag);
        if !tags.contains(&q) {
            tags.push(q);
        }
    }
    if tags.is_empty() {
        tags = FALLBACK_TAGS.iter().map(|t| json_string(t)).collect();
    }
    RELEASE
        .replace("@TAGS@", &tags.join(", "))
        .replace("@VARIANTS@", &variants.join(", "))
        .replace("@DEFAULT_VARIANT@", &yaml_scalar(&config.default_variant))
        .replace("@WORKING_DIRECTORY@", &working_directory(subdir))
}

fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// A plain YAML scalar when the name is a plain lowercase word YAML reads as a string, else
/// double-quoted (a branch `release/2.x`, a variant `on`).
fn yaml_scalar(s: &str) -> String {
    const SPECIAL: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let plain = s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !SPECIAL.contains(&s);
    if plain {
        s.to_owned()
    } else {
        json_string(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_config;

    #[test]
    fn release_offers_the_variants_and_triggers_on_the_rules_tags() {
        let config = test_config(
            "binary = \"a\"\ndefault-variant = \"staging\"\n\
             [variants.staging]\nprofile = \"release\"\n[variants.on]\nprofile = \"dev\"\n\
             [[rules]]\ntag = \"release-*\"\nvariant = \"staging\"\n\
             [[rules]]\nbranch = \"main\"\nvariant = \"on\"\n",
        );
        let text = release(&config, None);
        assert!(text.contains("    tags: [\"release-*\"]\n"), "{text}");
        assert!(
            text.contains("        options: [\"on\", staging]\n        default: staging\n"),
            "{text}"
        );
        for placeholder in ["@TAGS@", "@VARIANTS@", "@DEFAULT_VARIANT@"] {
            assert!(!text.contains(placeholder), "{placeholder} left in");
        }
    }

    #[test]
    fn without_tag_rules_a_release_starts_from_a_v_tag() {
        let config =
            test_config("binary = \"a\"\n[[rules]]\nbranch = \"main\"\nvariant = \"production\"\n");
        assert!(release(&config, None).contains("    tags: [\"v*\"]\n"));
    }

    #[test]
    fn ci_runs_on_pushes_to_the_default_branch() {
        assert!(ci("master", None).contains("  push:\n    branches: [master]\n"));
        assert!(ci("release/2.x", None).contains("    branches: [\"release/2.x\"]\n"));
        assert!(
            !ci("main", None).contains("@BRANCH@"),
            "placeholder left in"
        );
    }

    #[test]
    fn a_workspace_below_the_repository_top_runs_every_step_in_its_directory() {
        let config = test_config("binary = \"a\"\n");
        for text in [
            ci("main", Some("backend")),
            release(&config, Some("services/Api")),
        ] {
            assert!(
                text.contains("defaults:\n  run:\n    shell: bash\n    # The workspace's directory in the repository.\n    working-directory: "),
                "{text}"
            );
            assert!(!text.contains("@WORKING_DIRECTORY@"), "placeholder left in");
        }
        assert!(ci("main", Some("backend")).contains("    working-directory: backend\n"));
        assert!(release(&config, Some("services/Api"))
            .contains("    working-directory: \"services/Api\"\n"));
        assert!(!ci("main", None).contains("working-directory"));
    }

    #[test]
    fn the_flake_is_the_library_call_with_the_name() {
        let text = flake("orders");
        assert!(text.starts_with("{\n  description = \"orders: OCI images built with ship\";\n"));
        // The source is a path (`./.`), never self's store path turned back into one.
        assert!(text
            .contains("outputs = { self, ship }: ship.lib.mkFlake { inherit self; root = ./.; };"));
    }
}
