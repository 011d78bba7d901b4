//! `ship push-cache`: push store paths to the binary cache, through the cachix CLI or
//! `nix copy`, leaving out what the cache does not need.
//!
//! ## What is pushed
//!
//! Start from the closures (runtime references, recursively) of the given outputs. Callers pass
//! crane's dependency-only outputs (`deps-P`) explicitly: they are build-time inputs, so they
//! are in no runtime closure, yet they are what makes the next build fast. From those closures:
//!
//! - **images** are left out: store paths named as nixpkgs' dockerTools names images and their
//!   layers (`stream-*` from streamLayeredImage/streamNixShellImage, `docker-image-*` from
//!   buildImage/pullImage, `docker-layer-*` from its layer builders), and any given output (a
//!   root, not a dependency) whose name ends in `.tar`, `.tar.gz`, `.tgz`, `.tar.zst` or
//!   `.tar.xz` (buildLayeredImage's `NAME.tar.gz`, a docker-archive). The registry holds images;
//!   source tarballs inside closures are not roots and are kept.
//! - **upstream** paths are left out: those signed by an upstream key (default
//!   `cache.nixos.org-1`; `--upstream-key` to change), which their cache already serves.
//! - for a `nix copy` store, paths the store **already has** are not sent again (asked with
//!   `nix path-info --store URL` first, so the report can say so).
//!
//! One exception, for `nix copy` only: a binary cache refuses a path whose references it does
//! not hold ("cannot add ... because the reference ... is not valid"), so an upstream or image
//! path that a pushed path references and the store lacks is pushed too (`pushed_required`).
//! `nix copy` then runs with `--no-recursive` over exactly that set; to `ssh://`/`ssh-ng://`
//! stores with `--substitute-on-destination`, so the remote may fetch such paths from its own
//! substituters instead.
//!
//! cachix gets the same set on stdin (`cachix push NAME`), computes each path's closure itself
//! and skips whatever the cache already serves; ship cannot see that, so `present` is `None`.
//! Its credentials (CACHIX_AUTH_TOKEN, CACHIX_SIGNING_KEY) stay in the environment, and their
//! values are scrubbed from anything ship prints.

mod report;
mod select;
mod target;

pub use report::{CacheReport, PathGroup};
pub use select::{is_image, select, Selection};
pub use target::{secrets_for, BinaryCache, STORE_SCHEMES};

use std::collections::BTreeSet;

use crate::exec::{ExecError, Process};
use crate::nix::{self, Nix, NixError, PathInfo, PathInfoQuery, StorePath};

/// The signing key of cache.nixos.org.
pub const DEFAULT_UPSTREAM_KEY: &str = "cache.nixos.org-1";
/// Overrides the `cachix` binary.
pub const CACHIX_ENV: &str = "SHIP_CACHIX";
/// What to do when cachix cannot be started.
const CACHIX_HINT: &str = "install cachix, or point SHIP_CACHIX at it";
/// cachix's credentials: left in its environment, never printed.
pub const CACHIX_SECRET_ENVS: &[&str] = &["CACHIX_AUTH_TOKEN", "CACHIX_SIGNING_KEY"];

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "binary cache `{given}`: {reason}; accepted: cachix:NAME (lowercase a-z, 0-9, -) or a \
         store URL with scheme {}",
        STORE_SCHEMES.iter().map(|s| format!("{s}://")).collect::<Vec<_>>().join(", ")
    )]
    BinaryCache { given: String, reason: String },
    #[error(
        "no binary cache to push to: pass --cache CACHE or set `cache` in [workspace.metadata.ship]"
    )]
    NoTarget,
    #[error("nothing to push: give store paths or installables")]
    NothingGiven,
    #[error(
        "not in the local store yet: {}; build first (ship build), --dry-run never builds",
        .0.join(", ")
    )]
    NotBuilt(Vec<String>),
    #[error("{0} is not a valid path in the local store")]
    Invalid(StorePath),
    #[error(transparent)]
    Nix(#[from] NixError),
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// cachix push's own knobs; `None` leaves cachix's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachixOptions {
    /// `-j`: store paths pushed concurrently (cachix default 8).
    pub jobs: Option<u32>,
    /// `-m`: `xz` or `zstd` (default: what the cache advertises).
    pub compression_method: Option<String>,
    /// `-l`: 0-9 for xz, 0-16 for zstd (cachix default 2).
    pub compression_level: Option<u32>,
    /// `--omit-deriver`.
    pub omit_deriver: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOptions {
    /// Decide and print, push nothing, build nothing.
    pub dry_run: bool,
    /// Key names whose signature marks a path as served upstream.
    pub upstream_keys: Vec<String>,
    pub cachix: CachixOptions,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            upstream_keys: vec![DEFAULT_UPSTREAM_KEY.to_owned()],
            cachix: CachixOptions::default(),
        }
    }
}

/// Arguments of `nix copy` for exactly `paths` (no closure: the selection is already closed).
pub fn nix_copy_args(url: &str, paths: &[StorePath]) -> Vec<String> {
    let mut args = vec![
        "copy".to_owned(),
        "--to".to_owned(),
        url.to_owned(),
        "--no-recursive".to_owned(),
    ];
    if url.starts_with("ssh://") || url.starts_with("ssh-ng://") {
        args.push("--substitute-on-destination".to_owned());
    }
    args.extend(paths.iter().cloned());
    args
}

/// Arguments of `cachix push`; the paths go on stdin.
pub fn cachix_args(name: &str, opts: &CachixOptions) -> Vec<String> {
    let mut args = vec!["push".to_owned()];
    if let Some(j) = opts.jobs {
        args.extend(["-j".to_owned(), j.to_string()]);
    }
    if let Some(m) = &opts.compression_method {
        args.extend(["-m".to_owned(), m.clone()]);
    }
    if let Some(l) = opts.compression_level {
        args.extend(["-l".to_owned(), l.to_string()]);
    }
    if opts.omit_deriver {
        args.push("--omit-deriver".to_owned());
    }
    args.push(name.to_owned());
    args
}

/// The store paths `items` (store paths or installables) stand for. Nothing is built when they
/// are all in the local store already; otherwise they are built (never in a dry run).
fn resolve(nix: &Nix, items: &[String], dry_run: bool) -> Result<Vec<StorePath>, CacheError> {
    let dry = nix.dry_run(items)?;
    let known: Option<Vec<StorePath>> = dry
        .requested
        .iter()
        .flat_map(|r| r.outputs.values().cloned())
        .collect();
    let missing = dry.built() + dry.fetched() > 0;
    match known {
        Some(paths) if !missing => Ok(paths),
        _ if dry_run => Err(CacheError::NotBuilt(items.to_vec())),
        _ => {
            let built = nix.build(items)?;
            let outcome = nix::combine(&dry, &built).map_err(|message| NixError::Output {
                command: nix.display(&nix::build_args(items)),
                message,
            })?;
            Ok(outcome
                .outputs
                .into_iter()
                .flat_map(|o| o.outputs.into_values())
                .collect())
        }
    }
}

/// Pushes the closures of `items` (store paths or installables; pass `deps-P` explicitly) to
/// `target`, leaving out images, upstream paths and what the store already has.
pub fn push_cache(
    nix: &Nix,
    target: &BinaryCache,
    items: &[String],
    opts: &PushOptions,
) -> Result<CacheReport, CacheError> {
    if items.is_empty() {
        return Err(CacheError::NothingGiven);
    }
    let mut roots: Vec<StorePath> = resolve(nix, items, opts.dry_run)?;
    roots.sort();
    roots.dedup();
    let closure = nix.path_info(
        &roots,
        &PathInfoQuery {
            recursive: true,
            ..PathInfoQuery::default()
        },
    )?;
    if let Some(bad) = closure.iter().find(|i| !i.valid) {
        return Err(CacheError::Invalid(bad.path.clone()));
    }
    let roots_set: BTreeSet<StorePath> = roots.iter().cloned().collect();
    let secrets = secrets_for(target);
    let (selection, commands) = match target {
        BinaryCache::Store(url) => push_to_store(nix, url, &closure, &roots_set, opts, &secrets)?,
        BinaryCache::Cachix(name) => push_to_cachix(name, &closure, &roots_set, opts, &secrets)?,
    };
    Ok(CacheReport {
        target: target.to_string(),
        backend: target.backend().to_owned(),
        dry_run: opts.dry_run,
        roots,
        pushed: PathGroup::of(&selection.push),
        pushed_required: PathGroup::of(&selection.required),
        present: match target {
            BinaryCache::Store(_) => Some(PathGroup::of(&selection.present)),
            BinaryCache::Cachix(_) => None,
        },
        upstream: PathGroup::of(&selection.upstream),
        images: PathGroup::of(&selection.images),
        commands,
    })
}

/// `nix copy` to a store URL: ask the store what it has, select, copy exactly that set.
fn push_to_store(
    nix: &Nix,
    url: &str,
    closure: &[PathInfo],
    roots: &BTreeSet<StorePath>,
    opts: &PushOptions,
    secrets: &[String],
) -> Result<(Selection, Vec<String>), CacheError> {
    let candidates: Vec<String> = closure
        .iter()
        .filter(|i| !is_image(i.name(), roots.contains(&i.path)))
        .map(|i| i.path.clone())
        .collect();
    let present: BTreeSet<StorePath> = nix
        .path_info(
            &candidates,
            &PathInfoQuery {
                store: Some(url),
                ..PathInfoQuery::default()
            },
        )?
        .into_iter()
        .filter(|i| i.valid)
        .map(|i| i.path)
        .collect();
    let sel = select(closure, roots, Some(&present), &opts.upstream_keys, true);
    let paths: Vec<StorePath> = sel.push.iter().map(|i| i.path.clone()).collect();
    let args = nix_copy_args(url, &paths);
    let mut commands = Vec::new();
    if !paths.is_empty() {
        commands.push(nix.display(&args));
        if !opts.dry_run {
            nix.process(&args).echo(true).secrets(secrets).run()?;
        }
    }
    Ok((sel, commands))
}

/// `cachix push NAME` with the selected paths on stdin; cachix skips what the cache serves.
fn push_to_cachix(
    name: &str,
    closure: &[PathInfo],
    roots: &BTreeSet<StorePath>,
    opts: &PushOptions,
    secrets: &[String],
) -> Result<(Selection, Vec<String>), CacheError> {
    let sel = select(closure, roots, None, &opts.upstream_keys, false);
    let program = std::env::var_os(CACHIX_ENV)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "cachix".into());
    let args = cachix_args(name, &opts.cachix);
    let paths: Vec<StorePath> = sel.push.iter().map(|i| i.path.clone()).collect();
    let mut commands = Vec::new();
    if !paths.is_empty() {
        let process = Process::new(program)
            .args(&args)
            .echo(true)
            .secrets(secrets)
            .hint(CACHIX_HINT);
        commands.push(format!(
            "{} < ({} store paths, one per line)",
            process.display(),
            paths.len()
        ));
        if !opts.dry_run {
            let mut stdin = paths.join("\n");
            stdin.push('\n');
            process.stdin(stdin.into_bytes()).run()?;
        }
    }
    Ok((sel, commands))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::select::tests::path;

    #[test]
    fn command_lines() {
        let paths = vec![path("a"), path("b")];
        assert_eq!(
            nix_copy_args("file:///c?secret-key=/k", &paths),
            vec![
                "copy".to_owned(),
                "--to".into(),
                "file:///c?secret-key=/k".into(),
                "--no-recursive".into(),
                path("a"),
                path("b")
            ]
        );
        assert!(nix_copy_args("ssh-ng://host", &paths)
            .contains(&"--substitute-on-destination".to_owned()));
        assert!(
            !nix_copy_args("s3://b", &paths).contains(&"--substitute-on-destination".to_owned())
        );
        assert_eq!(
            cachix_args("demo", &CachixOptions::default()),
            vec!["push", "demo"]
        );
        assert_eq!(
            cachix_args(
                "demo",
                &CachixOptions {
                    jobs: Some(4),
                    compression_method: Some("zstd".into()),
                    compression_level: Some(6),
                    omit_deriver: true,
                }
            ),
            vec![
                "push",
                "-j",
                "4",
                "-m",
                "zstd",
                "-l",
                "6",
                "--omit-deriver",
                "demo"
            ]
        );
        let shown = Nix::new("nix", Vec::new())
            .display(&nix_copy_args("file:///c?secret-key=/run/k.sec", &paths));
        assert!(
            shown.contains("copy --to 'file:///c?secret-key=***' --no-recursive"),
            "{shown}"
        );
        assert!(!shown.contains("/run/k.sec"));
    }
}
