//! `include`: workspace paths the crates read at compile time besides `*.rs`, `*.toml`,
//! `Cargo.lock` and `.cargo/config*` (sqlx's `.sqlx/`, `migrations/`, `include_str!` assets,
//! templates, proto files). nix/lib/source.nix applies the same rules; nix/per-system.nix adds
//! these paths to the workspace crates' source and keeps them out of the deps derivations'.
//!
//! Top level only: the source is the workspace's, one for every variant, and the checks
//! (clippy, tests) build from it too, so a per-variant source would test another build than
//! the image's.

use std::path::Path;

use super::Problem;

/// `include` after the shape checks: each entry a relative path in canonical form, none twice.
pub(super) fn include(raw: Option<Vec<String>>) -> Result<Vec<String>, Problem> {
    let include = raw.unwrap_or_default();
    for (i, path) in include.iter().enumerate() {
        let key = format!("include[{i}]");
        if !is_workspace_path(path) {
            return Err(Problem::new(
                key,
                format!(
                    "`{path}` is not a workspace path; accepted: a path relative to the workspace root \
                     such as `migrations` or `.sqlx`, without a leading or trailing `/`, `.` or `..`"
                ),
            ));
        }
        if include[..i].contains(path) {
            return Err(Problem::new(key, format!("duplicate `{path}`")));
        }
    }
    Ok(include)
}

/// Every `include` path exists next to the manifest, as the Nix evaluation requires: a
/// missing one would fail the build's evaluation, so `ship` refuses it first.
pub(super) fn include_exists(manifest: &Path, include: &[String]) -> Result<(), Problem> {
    let root = manifest.parent().unwrap_or(Path::new("."));
    match include
        .iter()
        .enumerate()
        .find(|(_, p)| !root.join(p).exists())
    {
        Some((i, path)) => Err(Problem::new(
            format!("include[{i}]"),
            format!(
                "`{path}` does not exist in the workspace ({}); a flake sees only files git tracks: git add {path}",
                root.display()
            ),
        )),
        None => Ok(()),
    }
}

/// `a/b`: non-empty components, none `.` or `..`, so one path has one spelling.
fn is_workspace_path(path: &str) -> bool {
    path.split('/')
        .all(|c| !c.is_empty() && c != "." && c != "..")
}

#[cfg(test)]
mod tests {
    use crate::config::{test_config as cfg, test_error as err, test_manifest};

    #[test]
    fn include_defaults_to_nothing_and_keeps_the_order_given() {
        assert!(cfg("").include.is_empty());
        assert_eq!(
            cfg(
                "include = [\"migrations\", \".sqlx\", \"assets/templates\", \"schema.graphql\"]\n"
            )
            .include,
            ["migrations", ".sqlx", "assets/templates", "schema.graphql"]
        );
    }

    #[test]
    fn bad_include_values_name_the_entry_and_what_is_accepted() {
        for (input, needles) in [
            (
                "include = [\"/etc\"]\n",
                &["] include[0]: ", "`/etc`", "relative to the workspace root"][..],
            ),
            (
                "include = [\"a\", \"../x\"]\n",
                &["include[1]", "`../x`", "without"],
            ),
            (
                "include = [\"./migrations\"]\n",
                &["include[0]", "`./migrations`"],
            ),
            (
                "include = [\"migrations/\"]\n",
                &["include[0]", "`migrations/`"],
            ),
            (
                "include = [\"\"]\n",
                &["include[0]", "not a workspace path"],
            ),
            (
                "include = [\".sqlx\", \".sqlx\"]\n",
                &["include[1]", "duplicate `.sqlx`"],
            ),
            (
                "include = \"migrations\"\n",
                &["] include: ", "invalid type", "sequence"],
            ),
            ("include = [1]\n", &["include[0]", "invalid type"]),
            (
                "[variants.dev]\ninclude = [\"migrations\"]\n",
                &["variants.dev", "unknown field `include`"],
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

    #[test]
    fn a_missing_include_path_is_refused_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(
            &manifest,
            test_manifest("include = [\"migrations\", \".sqlx\"]\n"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        let e = crate::config::load(&manifest).unwrap_err().to_string();
        assert!(
            e.contains(
                "[workspace.metadata.ship] include[1]: `.sqlx` does not exist in the workspace"
            ) && e.contains("; a flake sees only files git tracks: git add .sqlx"),
            "{e}"
        );
        std::fs::write(dir.path().join(".sqlx"), "").unwrap();
        assert_eq!(
            crate::config::load(&manifest).unwrap().include,
            ["migrations", ".sqlx"]
        );
    }
}
