//! What `cargo metadata --format-version 1 --no-deps` says about a workspace that `ship init`
//! needs: its root, its name, and the binaries of its member packages; and which one the image
//! runs.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::InitError;

/// A binary target of a workspace member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    /// The target's name: what `cargo build --bin NAME` and `binary` take.
    pub name: String,
    /// The package it belongs to.
    pub package: String,
    /// That package's directory, relative to the workspace root ("" for the root package).
    pub package_dir: PathBuf,
}

/// The members of a workspace, as cargo sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    pub root: PathBuf,
    /// Every member's directory, relative to the root ("" for a root package).
    pub dirs: Vec<PathBuf>,
    /// The root package's name, when the root manifest has a [package].
    pub root_package: Option<String>,
    pub binaries: Vec<Binary>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    id: String,
    manifest_path: PathBuf,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// Reads cargo's metadata JSON (format version 1).
pub fn members(metadata_json: &[u8]) -> Result<Members, InitError> {
    let meta: Metadata =
        serde_json::from_slice(metadata_json).map_err(|e| InitError::Metadata {
            message: e.to_string(),
        })?;
    let root = meta.workspace_root;
    let mut dirs = Vec::new();
    let mut binaries = Vec::new();
    let mut root_package = None;
    for p in meta
        .packages
        .iter()
        .filter(|p| meta.workspace_members.contains(&p.id))
    {
        let dir = p
            .manifest_path
            .parent()
            .and_then(|d| d.strip_prefix(&root).ok())
            .unwrap_or(Path::new(""))
            .to_path_buf();
        if dir.as_os_str().is_empty() {
            root_package = Some(p.name.clone());
        }
        for t in p
            .targets
            .iter()
            .filter(|t| t.kind.iter().any(|k| k == "bin"))
        {
            binaries.push(Binary {
                name: t.name.clone(),
                package: p.name.clone(),
                package_dir: dir.clone(),
            });
        }
        dirs.push(dir);
    }
    binaries.sort_by(|a, b| a.name.cmp(&b.name));
    dirs.sort();
    Ok(Members {
        root,
        dirs,
        root_package,
        binaries,
    })
}

/// The binary the image runs: the one asked for, else the only one there is.
pub fn choose_binary<'a>(
    members: &'a Members,
    requested: Option<&str>,
) -> Result<&'a Binary, InitError> {
    let names = || {
        members
            .binaries
            .iter()
            .map(|b| b.name.clone())
            .collect::<Vec<_>>()
    };
    match (requested, members.binaries.as_slice()) {
        (_, []) => Err(InitError::NoBinary {
            root: members.root.clone(),
        }),
        (Some(name), bins) => {
            bins.iter()
                .find(|b| b.name == name)
                .ok_or_else(|| InitError::UnknownBinary {
                    name: name.to_owned(),
                    known: names(),
                })
        }
        (None, [only]) => Ok(only),
        (None, _) => Err(InitError::SeveralBinaries { known: names() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cargo's metadata for a root package `app` (bins `app`, `migrate`) and a member
    /// `crates/tool` (bin `tool`) and `crates/core` (a lib).
    fn metadata() -> Vec<u8> {
        serde_json::json!({
            "packages": [
                {"name": "app", "id": "path+file:///ws#app@0.1.0", "manifest_path": "/ws/Cargo.toml",
                 "targets": [{"name": "app", "kind": ["bin"]}, {"name": "migrate", "kind": ["bin"]},
                             {"name": "api", "kind": ["test"]}]},
                {"name": "tool", "id": "path+file:///ws/crates/tool#0.1.0", "manifest_path": "/ws/crates/tool/Cargo.toml",
                 "targets": [{"name": "tool", "kind": ["bin"]}]},
                {"name": "core", "id": "path+file:///ws/crates/core#0.1.0", "manifest_path": "/ws/crates/core/Cargo.toml",
                 "targets": [{"name": "core", "kind": ["lib"]}, {"name": "build-script-build", "kind": ["custom-build"]}]}
            ],
            "workspace_members": ["path+file:///ws#app@0.1.0", "path+file:///ws/crates/tool#0.1.0", "path+file:///ws/crates/core#0.1.0"],
            "workspace_root": "/ws",
            "version": 1
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn members_and_their_binaries() {
        let m = members(&metadata()).expect("parses");
        assert_eq!(m.root, Path::new("/ws"));
        assert_eq!(m.root_package.as_deref(), Some("app"));
        assert_eq!(
            m.dirs,
            [
                PathBuf::new(),
                PathBuf::from("crates/core"),
                PathBuf::from("crates/tool")
            ]
        );
        let names: Vec<_> = m
            .binaries
            .iter()
            .map(|b| (b.name.as_str(), b.package.as_str()))
            .collect();
        assert_eq!(
            names,
            [("app", "app"), ("migrate", "app"), ("tool", "tool")]
        );
    }

    #[test]
    fn one_binary_is_taken_several_need_the_flag() {
        let mut m = members(&metadata()).expect("parses");
        let e = choose_binary(&m, None).expect_err("three binaries");
        assert_eq!(
            e.to_string(),
            "the workspace has several binaries: app, migrate, tool; choose the one the image runs with --binary NAME"
        );
        assert_eq!(
            choose_binary(&m, Some("tool")).expect("exists").package,
            "tool"
        );
        let e = choose_binary(&m, Some("server")).expect_err("no such binary");
        assert_eq!(
            e.to_string(),
            "--binary server: the workspace has no such binary; its binaries: app, migrate, tool"
        );
        m.binaries.retain(|b| b.name == "tool");
        assert_eq!(choose_binary(&m, None).expect("only one").name, "tool");
        m.binaries.clear();
        let e = choose_binary(&m, None).expect_err("none");
        assert!(
            e.to_string()
                .starts_with("the workspace at /ws has no binary"),
            "{e}"
        );
    }

    #[test]
    fn metadata_that_is_not_cargos_is_refused() {
        let e = members(b"{\"packages\": 3}").expect_err("not metadata");
        assert!(e.to_string().contains("cargo metadata"), "{e}");
    }
}
