//! `ship init`: adopt ship in an existing cargo workspace. [`plan`] decides, from what the
//! edge read ([`Found`]), which files get what content; [`io`] reads the workspace (cargo
//! metadata, git remote, existing files) and writes the plan.

pub mod io;
pub mod manifest;
pub mod native;
pub mod templates;
pub mod workspace;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use manifest::TableSettings;
pub use workspace::{Binary, Members};

use crate::cache::BinaryCache;
use crate::config::{self, Config, ConfigError, Toolchain};
use crate::registry::Repository;

pub const FLAKE: &str = "flake.nix";
pub const MANIFEST: &str = "Cargo.toml";
pub const CI: &str = ".github/workflows/ship.yml";
pub const RELEASE: &str = ".github/workflows/ship-release.yml";

/// Every file `ship init` may write besides the manifest, relative to the workspace root: the
/// flake beside Cargo.toml, the workflows at the top of the repository, where GitHub reads
/// them, when the workspace is in its subdirectory `subdir`.
pub fn written(subdir: Option<&str>) -> [String; 3] {
    let up = subdir.map_or(0, |d| d.split('/').count());
    let top = "../".repeat(up);
    [
        FLAKE.to_owned(),
        format!("{top}{CI}"),
        format!("{top}{RELEASE}"),
    ]
}

/// What `nix flake check` does, said where init tells what to run next.
pub const CHECK_SENTENCE: &str = "what ship.yml runs: clippy -D warnings, rustfmt and the tests, in the Nix sandbox: no network, no database, only the cargo sources and `include`; adjust with `tests.skip`, `tests.targets` and `include` in [workspace.metadata.ship]";

/// The branch ship.yml runs on pushes to when git does not say which is the default one.
pub const DEFAULT_BRANCH: &str = "main";

/// Paths a crate reads at compile time by convention, looked for in the workspace root and in
/// every member's directory, and put into `include` when present: `migrations` (sqlx's
/// `migrate!`, diesel's and refinery's `embed_migrations!`), `.sqlx` and `sqlx-data.json`
/// (sqlx's offline query data), `proto` (prost-build and tonic-build in build scripts),
/// `templates` (askama). Anything else a crate reads (`include_str!` of another path) needs
/// adding to `include` by hand.
pub const COMPILE_TIME_PATHS: &[&str] = &[
    "migrations",
    ".sqlx",
    "sqlx-data.json",
    "proto",
    "templates",
];

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("no Cargo.toml in {} or any parent directory: run ship init inside a cargo workspace (`cargo init` makes one)", .start.display())]
    NoManifest { start: PathBuf },
    #[error("{}: not the workspace root: it is a member of the workspace {}; ship init configures the whole workspace: run it with --manifest {} (or without --manifest from inside the workspace)", .manifest.display(), .root.display(), .root.display())]
    NotWorkspaceRoot { manifest: PathBuf, root: PathBuf },
    #[error("cannot read cargo metadata: {message}")]
    Metadata { message: String },
    #[error("the workspace at {} has no binary: ship builds an image around one (src/main.rs or a [[bin]] target)", .root.display())]
    NoBinary { root: PathBuf },
    #[error("the workspace has several binaries: {}; choose the one the image runs with --binary NAME", .known.join(", "))]
    SeveralBinaries { known: Vec<String> },
    #[error("--binary {name}: the workspace has no such binary; its binaries: {}", .known.join(", "))]
    UnknownBinary { name: String, known: Vec<String> },
    #[error("{path}: not valid TOML: {message}")]
    NotToml { path: String, message: String },
    #[error("{path}: cannot add [workspace.metadata.ship]: {message}")]
    CannotAppend { path: String, message: String },
    #[error("{path} exists and is not what ship init writes; --force overwrites it (--dry-run shows what would be written)")]
    Exists { path: String },
    #[error("{flag} {given}: Cargo.toml's [workspace.metadata.ship] already has {key} = {have:?}, and ship init keeps an existing table: change it there")]
    TableDisagrees {
        flag: &'static str,
        given: String,
        key: &'static str,
        have: String,
    },
    #[error("{flag} {given}: {message}")]
    Flag {
        flag: &'static str,
        given: String,
        message: String,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the edge read about the workspace.
#[derive(Debug, Clone)]
pub struct Found {
    pub members: Members,
    /// The root Cargo.toml's text.
    pub manifest: String,
    /// `rust-toolchain.toml` or `rust-toolchain`, when the root has one.
    pub toolchain_file: Option<String>,
    /// Which of [`compile_time_candidates`] exist.
    pub compile_time: Vec<String>,
    /// The owner of the `origin` remote, when it is on GitHub.
    pub github_owner: Option<String>,
    /// The package names in the workspace's Cargo.lock (see [`native`]).
    pub locked: Vec<String>,
    /// The repository's default branch, when git knows it (see [`DEFAULT_BRANCH`]).
    pub default_branch: Option<String>,
    /// The workspace root's directory relative to the top of its git repository, `/`-separated,
    /// when it is not the top.
    pub subdir: Option<String>,
    /// The current contents of the [`written`] files that exist, by their path there.
    pub existing: BTreeMap<String, String>,
}

/// The choices on the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub binary: Option<String>,
    /// `image`: the registry repository.
    pub to: Option<String>,
    pub cache: Option<String>,
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Overwrite,
    /// The table appended to the manifest.
    AddTable,
    Unchanged,
    /// The manifest already has a table; it stays as it is.
    KeepTable,
}

impl Action {
    pub fn writes(self) -> bool {
        matches!(self, Self::Create | Self::Overwrite | Self::AddTable)
    }
    fn verb(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Overwrite => "overwrite",
            Self::AddTable => "append [workspace.metadata.ship] to",
            Self::Unchanged => "unchanged",
            Self::KeepTable => "keep the [workspace.metadata.ship] of",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Relative to the workspace root.
    pub path: String,
    pub action: Action,
    /// The whole file as it will be.
    pub contents: String,
    /// What a dry run shows: the whole file, or for the manifest the table added.
    pub shown: String,
}

#[derive(Debug, Clone)]
pub struct InitPlan {
    pub root: PathBuf,
    pub files: Vec<FileChange>,
    pub config: Config,
    /// Which Rust builds the workspace, in a sentence.
    pub toolchain: String,
    /// Things to know: a guessed image, a configured binary that is not in the workspace.
    pub notes: Vec<String>,
    /// The commands to run next.
    pub next: Vec<String>,
}

impl InitPlan {
    pub fn changes_anything(&self) -> bool {
        self.files.iter().any(|f| f.action.writes())
    }

    /// What `ship init` prints: each file and what happens to it (with the contents on a dry
    /// run), the toolchain, notes and next steps.
    pub fn summary(&self, dry_run: bool) -> String {
        let mut s = format!(
            "ship init: {} (binary `{}`, image {})\n",
            self.root.display(),
            self.config.binary,
            self.config.image
        );
        for f in &self.files {
            let verb = match (dry_run, f.action.writes()) {
                (true, true) => format!("would {}", f.action.verb()),
                _ => f.action.verb().to_owned(),
            };
            s.push_str(&format!("  {verb} {}\n", f.path));
        }
        if dry_run {
            for f in self.files.iter().filter(|f| f.action.writes()) {
                s.push_str(&format!("\n--- {} ({})\n", f.path, f.action.verb()));
                s.push_str(&f.shown);
                if !f.shown.ends_with('\n') {
                    s.push('\n');
                }
            }
            s.push_str("\n--dry-run: nothing written\n");
        } else if !self.changes_anything() {
            s.push_str("nothing to do: every file is as ship init writes it\n");
        }
        s.push_str(&format!("\n{}\n", self.toolchain));
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        s.push_str("\nnext:\n");
        for n in &self.next {
            s.push_str(&format!("  {n}\n"));
        }
        s
    }
}

/// Where the conventional compile-time paths would be: in the root and every member.
pub fn compile_time_candidates(members: &Members) -> Vec<PathBuf> {
    let mut dirs = members.dirs.clone();
    if !dirs.iter().any(|d| d.as_os_str().is_empty()) {
        dirs.insert(0, PathBuf::new());
    }
    dirs.iter()
        .flat_map(|d| COMPILE_TIME_PATHS.iter().map(move |p| d.join(p)))
        .collect()
}

/// The owner of a GitHub remote URL (https, ssh or scp-like), lowercased as image names are.
pub fn github_owner(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = [
        "https://github.com/",
        "ssh://git@github.com/",
        "git@github.com:",
    ]
    .iter()
    .find_map(|p| url.strip_prefix(p))?;
    let owner = rest.split('/').next()?;
    (!owner.is_empty()).then(|| owner.to_ascii_lowercase())
}

/// The image when `--to` is not given: GitHub's registry under the remote's owner, or an
/// `owner` placeholder to replace.
fn default_image(found: &Found, binary: &str) -> String {
    let owner = found.github_owner.as_deref().unwrap_or("owner");
    format!("ghcr.io/{owner}/{}", binary.to_ascii_lowercase())
}

/// Decides every file `ship init` writes for the workspace `found` describes.
pub fn plan(found: &Found, options: &Options) -> Result<InitPlan, InitError> {
    let root = found.members.root.clone();
    let manifest_path = root.join(MANIFEST);
    // The flags first, so a bad one is named as the flag, not as the table it would go into.
    check_flag("--cache", options.cache.as_deref(), BinaryCache::parse)?;
    check_flag("--to", options.to.as_deref(), Repository::parse)?;
    let manifest_name = manifest_path.display().to_string();
    let mut notes = Vec::new();
    let (manifest_change, config) = if manifest::has_table(&manifest_name, &found.manifest)? {
        let config = config::parse(&manifest_path, &found.manifest)?;
        agrees_with_table(&config, options)?;
        if !found
            .members
            .binaries
            .iter()
            .any(|b| b.name == config.binary)
        {
            let known: Vec<&str> = found
                .members
                .binaries
                .iter()
                .map(|b| b.name.as_str())
                .collect();
            notes.push(format!(
                "binary `{}` of [workspace.metadata.ship] is not a binary of this workspace (its binaries: {})",
                config.binary,
                known.join(", ")
            ));
        }
        let change = FileChange {
            path: MANIFEST.into(),
            action: Action::KeepTable,
            contents: found.manifest.clone(),
            shown: String::new(),
        };
        (change, config)
    } else {
        let binary = workspace::choose_binary(&found.members, options.binary.as_deref())?;
        let image = match &options.to {
            Some(to) => to.clone(),
            None => {
                if found.github_owner.is_none() {
                    notes.push(format!(
                        "no GitHub remote named origin: `image` is {}; put your registry repository there",
                        default_image(found, &binary.name)
                    ));
                }
                default_image(found, &binary.name)
            }
        };
        let table = manifest::table_text(&TableSettings {
            image,
            binary: binary.name.clone(),
            cache: options.cache.clone(),
            include: found.compile_time.clone(),
        });
        let contents = manifest::with_table(&manifest_name, &found.manifest, &table)?;
        let config = config::parse(&manifest_path, &contents)?;
        let change = FileChange {
            path: MANIFEST.into(),
            action: Action::AddTable,
            contents,
            shown: table,
        };
        (change, config)
    };
    let mut files = vec![manifest_change];
    let subdir = found.subdir.as_deref();
    let [flake, ci, release] = written(subdir);
    for (path, contents) in [
        (flake, templates::flake(&config.binary)),
        (
            ci,
            templates::ci(
                found.default_branch.as_deref().unwrap_or(DEFAULT_BRANCH),
                subdir,
            ),
        ),
        (release, templates::release(&config, subdir)),
    ] {
        let action = match found.existing.get(&path) {
            None => Action::Create,
            Some(old) if *old == contents => Action::Unchanged,
            Some(_) if options.force => Action::Overwrite,
            Some(_) => return Err(InitError::Exists { path }),
        };
        files.push(FileChange {
            path,
            action,
            shown: contents.clone(),
            contents,
        });
    }
    notes.extend(
        native::missing(
            found.locked.iter().map(String::as_str),
            config.variants.values().map(|v| &v.build),
        )
        .note(),
    );
    Ok(InitPlan {
        toolchain: toolchain_sentence(
            &manifest_path,
            found.toolchain_file.as_deref(),
            &config.toolchain,
        )?,
        next: next_steps(&config, &files),
        root,
        files,
        config,
        notes,
    })
}

/// A flag's value that `parse` refuses, named as the flag.
fn check_flag<T, E: std::fmt::Display>(
    flag: &'static str,
    given: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<(), InitError> {
    match given {
        Some(g) => parse(g).map(drop).map_err(|e| InitError::Flag {
            flag,
            given: g.to_owned(),
            message: e.to_string(),
        }),
        None => Ok(()),
    }
}

/// A flag that contradicts the table already there is an error, not silently ignored.
fn agrees_with_table(config: &Config, options: &Options) -> Result<(), InitError> {
    let checks = [
        (
            "--binary",
            "binary",
            options.binary.as_ref(),
            Some(&config.binary),
        ),
        ("--to", "image", options.to.as_ref(), Some(&config.image)),
        (
            "--cache",
            "cache",
            options.cache.as_ref(),
            config.cache.as_ref(),
        ),
    ];
    for (flag, key, given, have) in checks {
        if let Some(given) = given {
            if Some(given) != have {
                return Err(InitError::TableDisagrees {
                    flag,
                    given: given.clone(),
                    key,
                    have: have.cloned().unwrap_or_default(),
                });
            }
        }
    }
    Ok(())
}

/// Which Rust builds the workspace (nix/lib/toolchain.nix's order: the toolchain file, the
/// `toolchain` key, nixpkgs' own); a `toolchain` channel beside a toolchain file is refused,
/// as `ship plan` and nix/lib/toolchain.nix refuse it.
pub fn toolchain_sentence(
    manifest: &Path,
    file: Option<&str>,
    toolchain: &Toolchain,
) -> Result<String, ConfigError> {
    config::check_toolchain_file(manifest, file, toolchain)?;
    Ok(match (file, toolchain) {
        (Some(f), _) => format!("toolchain: the one {f} names, from rust-overlay"),
        (None, Toolchain::Channel(c)) => format!(
            "toolchain: rust-overlay's `{c}` (the `toolchain` key; the workspace has no rust-toolchain.toml)"
        ),
        (None, Toolchain::Nixpkgs) => "toolchain: nixpkgs' rustc, cargo, clippy and rustfmt (the workspace has no rust-toolchain.toml and [workspace.metadata.ship] no `toolchain`); to pin one, add a rust-toolchain.toml or `toolchain = \"stable\"` (or a version such as \"1.95.0\")".to_owned(),
    })
}

fn next_steps(config: &Config, files: &[FileChange]) -> Vec<String> {
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let mut next = vec![
        format!(
            "git add {} && nix build .#image-dev   (flakes see only files git knows)",
            paths.join(" ")
        ),
        "git add flake.lock   (the first nix build writes it: it pins ship, nixpkgs and the toolchain inputs; commit it, CI needs it)".to_owned(),
        format!("nix flake check   ({CHECK_SENTENCE})"),
        "ship plan   (what a release of this ref builds; nix run .#ship -- plan without ship installed)".to_owned(),
    ];
    match config.cache.as_deref() {
        Some(c) if c.starts_with("cachix:") => {
            let name = &c["cachix:".len()..];
            next.push(format!("create the cache {name} at https://app.cachix.org   (once; or pick a free name and change `cache`)"));
            next.push(format!(
                "repository secret CACHIX_AUTH_TOKEN: a cachix auth token with write access to {name}"
            ));
        }
        Some(c) => next.push(format!(
            "cache {c}: give ship-release.yml's \"Push the binary cache\" step its credentials through env"
        )),
        None => next.push(
            "create a cache NAME at https://app.cachix.org, set cache = \"cachix:NAME\" in [workspace.metadata.ship], and add the repository secret CACHIX_AUTH_TOKEN (write access to NAME)"
                .to_owned(),
        ),
    }
    if config.image.starts_with("ghcr.io/") {
        next.push(format!(
            "registry: {} takes the workflow's GITHUB_TOKEN, nothing to set",
            config.image
        ));
    } else {
        next.push(format!(
            "registry {}: repository variable REGISTRY_USERNAME and secret REGISTRY_PASSWORD",
            config.image
        ));
    }
    next.push(
        "first release: git tag v0.1.0 && git push origin v0.1.0   (a dev-* tag releases the dev variant)"
            .to_owned(),
    );
    next
}

#[cfg(test)]
mod tests;
