//! The `[workspace.metadata.ship]` table `ship init` writes, and adding it to an existing
//! Cargo.toml with toml_edit: the rest of the file (comments, order, formatting) stays byte for
//! byte, and a table that is already there is kept as it is.

use toml_edit::DocumentMut;

use super::InitError;

/// What goes into the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSettings {
    pub image: String,
    pub binary: String,
    /// `cache`; without one the key is written commented out, with how to make one.
    pub cache: Option<String>,
    /// `include`: workspace paths the crates read at compile time.
    pub include: Vec<String>,
}

/// A TOML string literal.
fn quoted(s: &str) -> String {
    toml_edit::Value::from(s).to_string().trim().to_owned()
}

/// The table as text, comments included, starting with a blank line so it sits apart from
/// what comes before it.
pub fn table_text(s: &TableSettings) -> String {
    let mut t = String::from(
        "\n# What ship builds and releases, read by the flake (ship.lib.mkFlake) and by `ship`.\n\
         # Every key and its default: https://github.com/ship-rs/ship#configuration\n\
         [workspace.metadata.ship]\n\
         # The repository the release pushes the images to (ghcr.io/OWNER/NAME on GitHub).\n",
    );
    t.push_str(&format!("image = {}\n", quoted(&s.image)));
    t.push_str("# The binary the images run.\n");
    t.push_str(&format!("binary = {}\n", quoted(&s.binary)));
    match &s.cache {
        Some(c) => {
            t.push_str("# The binary cache CI pulls from and releases push to.\n");
            t.push_str(&format!("cache = {}\n", quoted(c)));
        }
        None => t.push_str(
            "# A binary cache shared by CI and releases: create NAME at\n\
             # https://app.cachix.org, then uncomment.\n\
             # cache = \"cachix:NAME\"\n",
        ),
    }
    if !s.include.is_empty() {
        let list: Vec<String> = s.include.iter().map(|p| quoted(p)).collect();
        t.push_str(
            "# Read at compile time (sqlx::migrate!, sqlx's offline data, build scripts): part of\n\
             # the workspace crates' source, never of the dependencies' builds.\n",
        );
        t.push_str(&format!("include = [{}]\n", list.join(", ")));
    }
    t
}

/// Whether the manifest already has `[workspace.metadata.ship]` (in any TOML form).
pub fn has_table(path_name: &str, text: &str) -> Result<bool, InitError> {
    let doc = parse(path_name, text)?;
    Ok(doc
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("ship"))
        .is_some())
}

fn parse(path_name: &str, text: &str) -> Result<DocumentMut, InitError> {
    text.parse::<DocumentMut>().map_err(|e| InitError::NotToml {
        path: path_name.to_owned(),
        message: e.to_string(),
    })
}

/// `text` with the table added after everything else. It is appended as text, so every byte
/// of the manifest stays as it was; toml_edit checks first that `workspace` and
/// `workspace.metadata` can take a `[workspace.metadata.ship]` header (not inline tables) and after that the result parses and holds the table.
pub fn with_table(path_name: &str, text: &str, table: &str) -> Result<String, InitError> {
    let doc = parse(path_name, text)?;
    let conflict = |what: &str| {
        InitError::CannotAppend {
        path: path_name.to_owned(),
        message: format!(
            "{what} is not a table written as [header]; add [workspace.metadata.ship] by hand:\n{table}"
        ),
    }
    };
    if let Some(workspace) = doc.get("workspace") {
        let workspace = workspace
            .as_table()
            .ok_or_else(|| conflict("`workspace`"))?;
        if let Some(metadata) = workspace.get("metadata") {
            if !metadata.is_table() {
                return Err(conflict("`workspace.metadata`"));
            }
        }
    }
    let mut out = text.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(table);
    if !has_table(path_name, &out).unwrap_or(false) {
        return Err(conflict("`workspace.metadata`"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TableSettings {
        TableSettings {
            image: "ghcr.io/acme/orders".into(),
            binary: "orders".into(),
            cache: None,
            include: vec![],
        }
    }

    #[test]
    fn the_table_is_appended_and_the_rest_kept_byte_for_byte() {
        let original = "# orders service\n[package]\nname = \"orders\"   # keep me\nversion = \"0.3.0\"\n\n[dependencies]\nitoa = { version = \"1\" }  \n\n[profile.release]\nlto = true\n";
        let table = table_text(&settings());
        let out = with_table("Cargo.toml", original, &table).expect("appended");
        assert_eq!(out, format!("{original}{table}"));
        assert!(has_table("Cargo.toml", &out).expect("parses"));
        let config = crate::config::parse(std::path::Path::new("Cargo.toml"), &out)
            .expect("ship accepts what it wrote");
        assert_eq!(config.binary, "orders");
        assert_eq!(config.image, "ghcr.io/acme/orders");
        assert_eq!(config.cache, None);
    }

    #[test]
    fn an_existing_workspace_table_gets_the_table_at_the_end() {
        let original = "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n\n[workspace.metadata.other]\nx = 1\n\n[workspace.dependencies]\nitoa = \"1\"\n";
        let table = table_text(&TableSettings {
            cache: Some("cachix:acme".into()),
            include: vec!["migrations".into(), ".sqlx".into()],
            ..settings()
        });
        let out = with_table("Cargo.toml", original, &table).expect("appended");
        assert_eq!(out, format!("{original}{table}"));
        assert!(table.contains("cache = \"cachix:acme\"\n"), "{table}");
        assert!(
            table.contains("include = [\"migrations\", \".sqlx\"]\n"),
            "{table}"
        );
    }

    #[test]
    fn a_file_without_a_final_newline_keeps_its_last_line() {
        let original = "[package]\nname = \"orders\"\nversion = \"0.3.0\"";
        let table = table_text(&settings());
        let out = with_table("Cargo.toml", original, &table).expect("appended");
        assert_eq!(out, format!("{original}\n{table}"));
    }

    #[test]
    fn an_inline_metadata_table_is_refused_with_the_table_to_add() {
        let original = "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[workspace]\nmetadata = { other = 1 }\n";
        let e = with_table("ws/Cargo.toml", original, &table_text(&settings()))
            .expect_err("inline table");
        let text = e.to_string();
        assert!(text.starts_with("ws/Cargo.toml: cannot add [workspace.metadata.ship]: `workspace.metadata` is not a table"), "{text}");
        assert!(text.contains("binary = \"orders\""), "{text}");
    }

    #[test]
    fn existing_tables_are_found_in_any_form() {
        for text in [
            "[workspace.metadata.ship]\nbinary = \"a\"\n",
            "[workspace]\nmetadata.ship.binary = \"a\"\n",
            "[workspace.metadata]\nship = { binary = \"a\" }\n",
        ] {
            assert!(has_table("Cargo.toml", text).expect("parses"), "{text}");
        }
        assert!(!has_table("Cargo.toml", "[workspace.metadata.other]\n").expect("parses"));
        let e = has_table("x/Cargo.toml", "[package\n").expect_err("not TOML");
        assert!(
            e.to_string().starts_with("x/Cargo.toml: not valid TOML"),
            "{e}"
        );
    }
}
