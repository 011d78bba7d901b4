//! Native tools and libraries that well-known crates in a workspace's Cargo.lock need from
//! nixpkgs: a Dockerfile's `apt-get install` has no counterpart in the Nix sandbox until
//! `[workspace.metadata.ship.build]` names it.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::config::Build;

/// A crate and what its build script needs: (crate, native-build-inputs, build-inputs). Only
/// crates that link or run a system tool by default; one that vendors its C code by a feature
/// (`openssl-sys`' `vendored`) needs nothing once that feature is on.
const NEEDS: &[(&str, &[&str], &[&str])] = &[
    ("openssl-sys", &["pkg-config"], &["openssl"]),
    ("libz-sys", &["pkg-config"], &["zlib"]),
    ("libsqlite3-sys", &["pkg-config"], &["sqlite"]),
    ("pq-sys", &["pkg-config"], &["postgresql"]),
    ("mysqlclient-sys", &["pkg-config"], &["libmysqlclient"]),
    ("curl-sys", &["pkg-config"], &["curl"]),
    ("libgit2-sys", &["pkg-config"], &["libgit2"]),
    ("prost-build", &["protobuf"], &[]),
    ("tonic-build", &["protobuf"], &[]),
    ("tonic-prost-build", &["protobuf"], &[]),
    ("bindgen", &["rustPlatform.bindgenHook"], &[]),
    ("cmake", &["cmake"], &[]),
];

/// What the workspace's locked crates need and its `build` table does not give yet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Missing {
    /// The crates that need them.
    pub crates: Vec<String>,
    pub native_build_inputs: Vec<String>,
    pub build_inputs: Vec<String>,
}

impl Missing {
    /// The note `ship init` prints, or none when nothing is missing.
    pub fn note(&self) -> Option<String> {
        if self.crates.is_empty() {
            return None;
        }
        let list = |v: &[String]| {
            let quoted: Vec<String> = v.iter().map(|s| format!("\"{s}\"")).collect();
            format!("[{}]", quoted.join(", "))
        };
        let mut keys = Vec::new();
        if !self.native_build_inputs.is_empty() {
            keys.push(format!(
                "native-build-inputs = {}",
                list(&self.native_build_inputs)
            ));
        }
        if !self.build_inputs.is_empty() {
            keys.push(format!("build-inputs = {}", list(&self.build_inputs)));
        }
        Some(format!(
            "Cargo.lock has {}, whose build scripts need system tools or libraries: add to [workspace.metadata.ship.build] {} (nothing for a crate whose `vendored`/`bundled` feature is on)",
            self.crates.join(", "),
            keys.join(" and ")
        ))
    }
}

/// What the crates named `locked` need from nixpkgs that any of the variants' `builds` lacks.
pub fn missing<'a, 'b>(
    locked: impl IntoIterator<Item = &'a str>,
    builds: impl IntoIterator<Item = &'b Build>,
) -> Missing {
    let locked: BTreeSet<&str> = locked.into_iter().collect();
    let builds: Vec<&Build> = builds.into_iter().collect();
    // Present in every variant's build, or the variant without it fails.
    let everywhere = |have: fn(&Build) -> &Vec<String>, w: &str| {
        builds.iter().all(|b| have(b).iter().any(|h| h == w))
    };
    let native_inputs: fn(&Build) -> &Vec<String> = |b| &b.native_build_inputs;
    let build_inputs: fn(&Build) -> &Vec<String> = |b| &b.build_inputs;
    let mut out = Missing::default();
    for (name, native, libs) in NEEDS.iter().filter(|(n, _, _)| locked.contains(n)) {
        let mut needed = false;
        for (want, have, into) in [
            (*native, native_inputs, &mut out.native_build_inputs),
            (*libs, build_inputs, &mut out.build_inputs),
        ] {
            for w in want.iter().filter(|w| !everywhere(have, w)) {
                needed = true;
                if !into.iter().any(|i| i == w) {
                    into.push((*w).to_owned());
                }
            }
        }
        if needed {
            out.crates.push((*name).to_owned());
        }
    }
    out
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct LockedPackage {
    name: String,
}

/// The package names of a Cargo.lock's text; an unreadable lock names none (cargo reports
/// it on the first build).
pub fn locked_names(lock: &str) -> Vec<String> {
    toml::from_str::<Lock>(lock)
        .map(|l| l.package.into_iter().map(|p| p.name).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_crates_map_to_their_nixpkgs_inputs_once_each() {
        let m = missing(
            [
                "openssl-sys",
                "itoa",
                "prost-build",
                "tonic-build",
                "libz-sys",
            ],
            [&Build::default()],
        );
        assert_eq!(
            m.crates,
            ["openssl-sys", "libz-sys", "prost-build", "tonic-build"]
        );
        assert_eq!(m.native_build_inputs, ["pkg-config", "protobuf"]);
        assert_eq!(m.build_inputs, ["openssl", "zlib"]);
        let note = m.note().expect("a note");
        assert!(
            note.contains("native-build-inputs = [\"pkg-config\", \"protobuf\"] and build-inputs = [\"openssl\", \"zlib\"]"),
            "{note}"
        );
    }

    #[test]
    fn what_the_build_table_has_is_not_asked_for_again() {
        let build = Build {
            native_build_inputs: vec!["pkg-config".into()],
            build_inputs: vec!["openssl".into()],
            ..Build::default()
        };
        let m = missing(["openssl-sys"], [&build, &build]);
        assert_eq!(m, Missing::default());
        assert_eq!(m.note(), None);
        assert_eq!(missing(["itoa", "serde"], [&Build::default()]).note(), None);
        // A variant without them builds without them.
        let m = missing(["openssl-sys"], [&build, &Build::default()]);
        assert_eq!(m.build_inputs, ["openssl"]);
    }

    #[test]
    fn a_lock_files_package_names() {
        let lock = "version = 4\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.0\"\n\n[[package]]\nname = \"openssl-sys\"\nversion = \"0.9.0\"\n";
        assert_eq!(locked_names(lock), ["itoa", "openssl-sys"]);
        assert!(locked_names("not toml [").is_empty());
    }
}
