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

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;

use serde::Serialize;

use crate::exec::{ExecError, Process};
use crate::nix::{self, Nix, NixError, PathInfo, PathInfoQuery, StorePath};
use crate::redact::{display_command, redact_url};

/// The signing key of cache.nixos.org.
pub const DEFAULT_UPSTREAM_KEY: &str = "cache.nixos.org-1";
/// Overrides the `cachix` binary.
pub const CACHIX_ENV: &str = "SHIP_CACHIX";
/// What to do when cachix cannot be started.
const CACHIX_HINT: &str = "install cachix, or point SHIP_CACHIX at it";
/// cachix's credentials: left in its environment, never printed.
pub const CACHIX_SECRET_ENVS: &[&str] = &["CACHIX_AUTH_TOKEN", "CACHIX_SIGNING_KEY"];
/// Store URL schemes `nix copy --to` is used with.
pub const STORE_SCHEMES: &[&str] = &["file", "s3", "http", "https", "ssh", "ssh-ng"];
/// Names of root outputs that are image archives.
const IMAGE_SUFFIXES: &[&str] = &[".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz"];
/// Names dockerTools gives image scripts, tarballs and layers.
const IMAGE_PREFIXES: &[&str] = &["stream-", "docker-image-", "docker-layer-"];

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "binary cache `{given}`: {reason}; accepted: cachix:NAME (lowercase a-z, 0-9, -) or a \
         store URL with scheme {}",
        STORE_SCHEMES.iter().map(|s| format!("{s}://")).collect::<Vec<_>>().join(", ")
    )]
    BinaryCache { given: String, reason: String },
    #[error(
        "no binary cache to push to: pass --to CACHE or set `cache` in [workspace.metadata.ship]"
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

/// Where to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryCache {
    /// `cachix:NAME`: the cachix CLI.
    Cachix(String),
    /// A store URL for `nix copy --to`.
    Store(String),
}

impl BinaryCache {
    pub fn parse(given: &str) -> Result<Self, CacheError> {
        let err = |reason: &str| CacheError::BinaryCache {
            given: redact_url(given),
            reason: reason.to_owned(),
        };
        if let Some(name) = given.strip_prefix("cachix:") {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            return if ok {
                Ok(Self::Cachix(name.to_owned()))
            } else {
                Err(err("not a cachix cache name"))
            };
        }
        match given.split_once("://") {
            Some((scheme, rest)) if STORE_SCHEMES.contains(&scheme) && !rest.is_empty() => {
                Ok(Self::Store(given.to_owned()))
            }
            Some((scheme, _)) if !STORE_SCHEMES.contains(&scheme) => {
                Err(err(&format!("unsupported scheme `{scheme}`")))
            }
            _ => Err(err("not a cachix name or store URL")),
        }
    }

    /// `--to` wins over the configuration.
    pub fn select(to: Option<&str>, configured: Option<&str>) -> Result<Self, CacheError> {
        Self::parse(to.or(configured).ok_or(CacheError::NoTarget)?)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Cachix(_) => "cachix",
            Self::Store(_) => "nix-copy",
        }
    }
}

impl fmt::Display for BinaryCache {
    /// Fit to print: secrets in the URL are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cachix(name) => write!(f, "cachix:{name}"),
            Self::Store(url) => f.write_str(&redact_url(url)),
        }
    }
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

/// A set of store paths and their NAR bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PathGroup {
    pub count: usize,
    pub bytes: u64,
    pub paths: Vec<StorePath>,
}

impl PathGroup {
    fn of<'a>(infos: impl IntoIterator<Item = &'a PathInfo>) -> Self {
        let mut g = Self::default();
        for i in infos {
            g.count += 1;
            g.bytes += i.nar_size;
            g.paths.push(i.path.clone());
        }
        g.paths.sort();
        g
    }
}

/// What a push did (or, dry, would do). JSON field names are stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheReport {
    /// The target, secrets redacted.
    pub target: String,
    /// `cachix` or `nix-copy`.
    pub backend: String,
    pub dry_run: bool,
    /// The outputs whose closures were considered.
    pub roots: Vec<StorePath>,
    /// Sent to the cache (for cachix: handed to it; it may still skip some).
    pub pushed: PathGroup,
    /// The part of `pushed` that is upstream or image paths a pushed path references.
    pub pushed_required: PathGroup,
    /// Already in the store; `None` when not checked (cachix checks by itself).
    pub present: Option<PathGroup>,
    /// Left out: signed by an upstream key.
    pub upstream: PathGroup,
    /// Left out: image scripts and archives.
    pub images: PathGroup,
    /// The commands run (or that would run), secrets redacted.
    pub commands: Vec<String>,
}

impl CacheReport {
    /// For people.
    pub fn text(&self) -> String {
        let verb = if self.dry_run { "would push" } else { "pushed" };
        let mut out = format!("push-cache to {} ({})\n", self.target, self.backend);
        let row = |label: &str, g: &PathGroup, note: &str| {
            format!(
                "  {label:<17} {:>5} path{:<1}  {:>10}{note}\n",
                g.count,
                if g.count == 1 { "" } else { "s" },
                crate::human::bytes(g.bytes)
            )
        };
        out.push_str(&row(verb, &self.pushed, ""));
        if self.pushed_required.count > 0 {
            out.push_str(&row(
                "  of which needed",
                &self.pushed_required,
                "  (upstream/image paths a pushed path references)",
            ));
        }
        match &self.present {
            Some(g) => out.push_str(&row("already present", g, "")),
            None => out.push_str("  already present   (not checked: cachix skips them itself)\n"),
        }
        out.push_str(&row("skipped upstream", &self.upstream, ""));
        out.push_str(&row("skipped images", &self.images, ""));
        out
    }

    /// A few Markdown lines for $GITHUB_STEP_SUMMARY.
    pub fn markdown(&self) -> String {
        let g = |g: &PathGroup| format!("{} ({})", g.count, crate::human::bytes(g.bytes));
        format!(
            "- **push-cache** `{}`: {} {}, already present {}, skipped upstream {}, skipped images {}\n",
            self.target,
            if self.dry_run { "would push" } else { "pushed" },
            g(&self.pushed),
            self.present
                .as_ref()
                .map(g)
                .unwrap_or_else(|| "not checked".to_owned()),
            g(&self.upstream),
            g(&self.images),
        )
    }
}

/// True for image scripts, archives and layers (see the module documentation). `is_root`: the
/// path is one of the given outputs, not something found in a closure.
pub fn is_image(name: &str, is_root: bool) -> bool {
    IMAGE_PREFIXES.iter().any(|p| name.starts_with(p))
        || (is_root && IMAGE_SUFFIXES.iter().any(|s| name.ends_with(s)))
}

/// The pure decision: which paths of `closure` to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub push: Vec<PathInfo>,
    pub required: Vec<PathInfo>,
    pub present: Vec<PathInfo>,
    pub upstream: Vec<PathInfo>,
    pub images: Vec<PathInfo>,
}

/// Splits `closure` (the closures of `roots`, with references) into what to push and what to
/// leave out. `present`: what the target already has (`None`: unknown, as with cachix).
/// `needs_references`: the target refuses paths whose references it lacks (every `nix copy`
/// store), so upstream/image paths referenced by pushed ones are pushed too.
pub fn select(
    closure: &[PathInfo],
    roots: &BTreeSet<StorePath>,
    present: Option<&BTreeSet<StorePath>>,
    upstream_keys: &[String],
    needs_references: bool,
) -> Selection {
    let by_path: BTreeMap<&str, &PathInfo> = closure.iter().map(|i| (i.path.as_str(), i)).collect();
    let has = |p: &str| present.is_some_and(|set| set.contains(p));
    let mut kind: BTreeMap<&str, Kind> = BTreeMap::new();
    for info in closure {
        let k = if is_image(info.name(), roots.contains(&info.path)) {
            Kind::Image
        } else if upstream_keys.iter().any(|key| info.signed_by(key)) {
            Kind::Upstream
        } else if has(&info.path) {
            Kind::Present
        } else {
            Kind::Push
        };
        kind.insert(info.path.as_str(), k);
    }

    if needs_references {
        // Whatever a pushed path references must reach the store too, unless it is there.
        let mut stack: Vec<&str> = kind
            .iter()
            .filter(|(_, k)| **k == Kind::Push)
            .map(|(p, _)| *p)
            .collect();
        while let Some(path) = stack.pop() {
            let Some(info) = by_path.get(path) else {
                continue;
            };
            for r in &info.references {
                let Some((r, k)) = kind.get_key_value(r.as_str()).map(|(p, k)| (*p, *k)) else {
                    continue;
                };
                if matches!(k, Kind::Image | Kind::Upstream) {
                    let next = if has(r) {
                        Kind::Present
                    } else {
                        Kind::Required
                    };
                    kind.insert(r, next);
                    if next == Kind::Required {
                        stack.push(r);
                    }
                }
            }
        }
    }

    let pick = |want: &[Kind]| -> Vec<PathInfo> {
        closure
            .iter()
            .filter(|i| kind.get(i.path.as_str()).is_some_and(|k| want.contains(k)))
            .cloned()
            .collect()
    };
    Selection {
        push: pick(&[Kind::Push, Kind::Required]),
        required: pick(&[Kind::Required]),
        present: pick(&[Kind::Present]),
        upstream: pick(&[Kind::Upstream]),
        images: pick(&[Kind::Image]),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Push,
    Required,
    Present,
    Upstream,
    Image,
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

/// Secret values that must not appear in anything printed for `target`: cachix's credentials
/// from the environment; for a store URL, the signing key file named by `secret-key=` and, as
/// a second line of defence, that file's contents.
pub fn secrets_for(target: &BinaryCache) -> Vec<String> {
    let mut out = Vec::new();
    match target {
        BinaryCache::Cachix(_) => {
            for var in CACHIX_SECRET_ENVS {
                if let Ok(v) = std::env::var(var) {
                    if !v.trim().is_empty() {
                        out.push(v.trim().to_owned());
                    }
                }
            }
        }
        BinaryCache::Store(url) => {
            let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
            for param in query.split('&') {
                if let Some((name, value)) = param.split_once('=') {
                    if name == "secret-key" {
                        out.push(value.to_owned());
                        if let Ok(text) = std::fs::read_to_string(value) {
                            let text = text.trim().to_owned();
                            if let Some((_, key)) = text.split_once(':') {
                                out.push(key.to_owned());
                            }
                            out.push(text);
                        }
                    }
                }
            }
        }
    }
    out
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
    let root_set: BTreeSet<StorePath> = roots.iter().cloned().collect();
    let secrets = secrets_for(target);

    let (selection, commands) = match target {
        BinaryCache::Store(url) => {
            let candidates: Vec<String> = closure
                .iter()
                .filter(|i| !is_image(i.name(), root_set.contains(&i.path)))
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
            let sel = select(
                &closure,
                &root_set,
                Some(&present),
                &opts.upstream_keys,
                true,
            );
            let paths: Vec<StorePath> = sel.push.iter().map(|i| i.path.clone()).collect();
            let args = nix_copy_args(url, &paths);
            let mut commands = Vec::new();
            if !paths.is_empty() {
                commands.push(nix.display(&args));
                if !opts.dry_run {
                    copy(nix, &args, &secrets)?;
                }
            }
            (sel, commands)
        }
        BinaryCache::Cachix(name) => {
            let sel = select(&closure, &root_set, None, &opts.upstream_keys, false);
            let program = std::env::var_os(CACHIX_ENV)
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "cachix".into());
            let args = cachix_args(name, &opts.cachix);
            let paths: Vec<StorePath> = sel.push.iter().map(|i| i.path.clone()).collect();
            let mut commands = Vec::new();
            if !paths.is_empty() {
                commands.push(format!(
                    "{} < ({} store paths, one per line)",
                    display_command(&program.to_string_lossy(), &args),
                    paths.len()
                ));
                if !opts.dry_run {
                    cachix_push(&program, &args, &paths, &secrets)?;
                }
            }
            (sel, commands)
        }
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

fn copy(nix: &Nix, args: &[String], secrets: &[String]) -> Result<(), CacheError> {
    nix.process(args).echo(true).secrets(secrets).run()?;
    Ok(())
}

fn cachix_push(
    program: &OsString,
    args: &[String],
    paths: &[StorePath],
    secrets: &[String],
) -> Result<(), CacheError> {
    let mut stdin = paths.join("\n");
    stdin.push('\n');
    Process::new(program)
        .args(args)
        .stdin(stdin.into_bytes())
        .echo(true)
        .secrets(secrets)
        .hint(CACHIX_HINT)
        .run()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, size: u64, refs: &[&str], sigs: &[&str]) -> PathInfo {
        PathInfo {
            path: path(name),
            valid: true,
            nar_size: size,
            closure_size: None,
            signatures: sigs.iter().map(|k| format!("{k}:c2ln")).collect(),
            deriver: None,
            references: refs.iter().map(|r| path(r)).collect(),
        }
    }

    fn path(name: &str) -> String {
        format!("/nix/store/{}-{name}", "a".repeat(32))
    }

    fn names(infos: &[PathInfo]) -> Vec<&str> {
        infos.iter().map(PathInfo::name).collect()
    }

    fn keys() -> Vec<String> {
        vec![DEFAULT_UPSTREAM_KEY.to_owned()]
    }

    #[test]
    fn targets() {
        assert_eq!(
            BinaryCache::parse("cachix:ship-demo").unwrap(),
            BinaryCache::Cachix("ship-demo".into())
        );
        for url in [
            "file:///tmp/cache",
            "s3://bucket?region=x",
            "http://127.0.0.1:5000",
            "https://cache.example.org",
            "ssh://builder",
            "ssh-ng://builder",
        ] {
            assert_eq!(
                BinaryCache::parse(url).unwrap(),
                BinaryCache::Store(url.into()),
                "{url}"
            );
        }
        for (bad, why) in [
            ("cachix:Ship_Demo", "not a cachix cache name"),
            ("cachix:", "not a cachix cache name"),
            ("ftp://x", "unsupported scheme `ftp`"),
            ("/tmp/cache", "not a cachix name or store URL"),
            ("file://", "not a cachix name or store URL"),
        ] {
            let e = BinaryCache::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains(why) && e.contains("accepted: cachix:NAME"),
                "{bad}: {e}"
            );
        }
        let e = BinaryCache::parse("gopher://x?secret-key=/k")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("/k"), "{e}");
        assert!(matches!(
            BinaryCache::select(None, None),
            Err(CacheError::NoTarget)
        ));
        assert_eq!(
            BinaryCache::select(Some("file:///a"), Some("cachix:b")).unwrap(),
            BinaryCache::Store("file:///a".into())
        );
        assert_eq!(
            BinaryCache::select(None, Some("cachix:b"))
                .unwrap()
                .to_string(),
            "cachix:b"
        );
        assert_eq!(
            BinaryCache::parse("file:///c?secret-key=/run/k")
                .unwrap()
                .to_string(),
            "file:///c?secret-key=***"
        );
    }

    #[test]
    fn image_names() {
        assert!(is_image("stream-demo-service", false));
        assert!(is_image("docker-image-fixture.tar", false));
        assert!(is_image("docker-layer-base", false));
        assert!(is_image("demo-service.tar.gz", true));
        assert!(is_image("image.tar.zst", true));
        // A source tarball deep in a closure is not an image.
        assert!(!is_image("crate-serde-1.0.0.tar.gz", false));
        assert!(!is_image("demo-service-0.1.0", true));
        assert!(!is_image("demo-service-deps-0.1.0", true));
    }

    #[test]
    fn selection_for_a_binary_cache() {
        // image -> app -> glibc (upstream); image -> fake-nss (upstream); deps alone.
        let closure = vec![
            info(
                "docker-image-fixture.tar",
                1000,
                &["fixture-0.1.0", "fake-nss"],
                &[],
            ),
            info("fixture-0.1.0", 100, &["glibc-2.35"], &[]),
            info("glibc-2.35", 50, &[], &[DEFAULT_UPSTREAM_KEY]),
            info("fake-nss", 5, &[], &[DEFAULT_UPSTREAM_KEY]),
            info("fixture-deps-0.1.0", 10, &[], &["test-1"]),
        ];
        let roots: BTreeSet<String> =
            [path("docker-image-fixture.tar"), path("fixture-deps-0.1.0")]
                .into_iter()
                .collect();
        let sel = select(&closure, &roots, Some(&BTreeSet::new()), &keys(), true);
        assert_eq!(
            names(&sel.push),
            vec!["fixture-0.1.0", "glibc-2.35", "fixture-deps-0.1.0"]
        );
        assert_eq!(names(&sel.required), vec!["glibc-2.35"]);
        assert_eq!(names(&sel.upstream), vec!["fake-nss"]);
        assert_eq!(names(&sel.images), vec!["docker-image-fixture.tar"]);
        assert!(sel.present.is_empty());

        // The store already has the app: only deps is sent, and glibc, needed by nothing that
        // is sent, is left to upstream again.
        let present: BTreeSet<String> = [path("fixture-0.1.0")].into();
        let sel = select(&closure, &roots, Some(&present), &keys(), true);
        assert_eq!(names(&sel.push), vec!["fixture-deps-0.1.0"]);
        assert!(sel.required.is_empty());
        assert_eq!(names(&sel.present), vec!["fixture-0.1.0"]);
        assert_eq!(names(&sel.upstream), vec!["glibc-2.35", "fake-nss"]);

        // A new app whose glibc the store has: glibc counts as present, not pushed.
        let present: BTreeSet<String> = [path("glibc-2.35")].into();
        let sel = select(&closure, &roots, Some(&present), &keys(), true);
        assert_eq!(
            names(&sel.push),
            vec!["fixture-0.1.0", "fixture-deps-0.1.0"]
        );
        assert_eq!(names(&sel.present), vec!["glibc-2.35"]);
        assert!(sel.required.is_empty());

        // Everything there: nothing to push.
        let all: BTreeSet<String> = closure.iter().map(|i| i.path.clone()).collect();
        let sel = select(&closure, &roots, Some(&all), &keys(), true);
        assert!(sel.push.is_empty());
        assert_eq!(
            names(&sel.present),
            vec!["fixture-0.1.0", "fixture-deps-0.1.0"]
        );
    }

    #[test]
    fn selection_for_cachix_hands_over_no_upstream_path() {
        let closure = vec![
            info("fixture-0.1.0", 100, &["glibc-2.35"], &[]),
            info("glibc-2.35", 50, &[], &[DEFAULT_UPSTREAM_KEY]),
            info("stream-fixture", 3, &["fixture-0.1.0"], &[]),
        ];
        let roots: BTreeSet<String> = [path("stream-fixture")].into();
        let sel = select(&closure, &roots, None, &keys(), false);
        assert_eq!(names(&sel.push), vec!["fixture-0.1.0"]);
        assert_eq!(names(&sel.upstream), vec!["glibc-2.35"]);
        assert_eq!(names(&sel.images), vec!["stream-fixture"]);
        // Another upstream key, and the default one no longer counts.
        let sel = select(&closure, &roots, None, &["my-upstream-1".to_owned()], false);
        assert_eq!(names(&sel.push), vec!["fixture-0.1.0", "glibc-2.35"]);
    }

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

    #[test]
    fn secrets_from_a_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.sec");
        std::fs::write(&key, "test-1:c2VjcmV0LWtleS1ieXRlcw==\n").unwrap();
        let t = BinaryCache::Store(format!(
            "file:///c?compression=zstd&secret-key={}",
            key.display()
        ));
        let s = secrets_for(&t);
        assert!(s.contains(&"c2VjcmV0LWtleS1ieXRlcw==".to_owned()), "{s:?}");
        assert!(s.contains(&"test-1:c2VjcmV0LWtleS1ieXRlcw==".to_owned()));
        assert!(s.contains(&key.display().to_string()));
    }

    #[test]
    fn report_text() {
        let g = |n: usize, b: u64| PathGroup {
            count: n,
            bytes: b,
            paths: Vec::new(),
        };
        let r = CacheReport {
            target: "file:///c?secret-key=***".into(),
            backend: "nix-copy".into(),
            dry_run: false,
            roots: Vec::new(),
            pushed: g(3, 2048),
            pushed_required: g(0, 0),
            present: Some(g(1, 10)),
            upstream: g(1, 5),
            images: g(1, 1000),
            commands: Vec::new(),
        };
        let text = r.text();
        assert!(
            text.starts_with("push-cache to file:///c?secret-key=*** (nix-copy)\n"),
            "{text}"
        );
        assert!(
            text.contains("pushed                3 paths     2.0 KiB"),
            "{text}"
        );
        assert!(
            text.contains("already present       1 path         10 B"),
            "{text}"
        );
        let md = r.markdown();
        assert!(md.contains("pushed 3 (2.0 KiB), already present 1 (10 B), skipped upstream 1 (5 B), skipped images 1 (1000 B)"), "{md}");
        let cachix = CacheReport {
            present: None,
            dry_run: true,
            ..r
        };
        assert!(cachix.text().contains("would push"));
        assert!(cachix.text().contains("not checked"));
    }
}
