//! Running Nix: `nix build --dry-run` (what will be built versus fetched: the cache hit rate),
//! one `nix build --json` of every installable, and `nix path-info --json` in all the shapes
//! Nix has printed it. Command lines and output parsing are pure functions, unit-tested without
//! Nix; [`Nix`] is the thin I/O edge that runs them.
//!
//! Versions: written against Nix 2.8 (Debian 12, what the tests run) and the wording and JSON of
//! current Nix (checked in NixOS/nix up to 2.35: `src/libmain/shared.cc` `printMissing`,
//! `src/nix/path-info.cc`, `src/libstore/path-info.cc`).
//!
//! ## Cache hit rate
//!
//! From the dry run, before anything is built: `built` = derivations Nix will build, `fetched` =
//! store paths Nix will substitute from a binary cache, and
//! `hit_rate = fetched / (fetched + built)`. Both count whole closures, not just the requested
//! outputs. Paths already valid in the local store are neither built nor fetched and are not
//! counted; when nothing is missing at all the rate is `None` ("n/a: everything was already
//! local"), never a made-up 100%. Each requested output is also classified on its own as
//! `built`, `fetched` or `local` (see [`OutputStatus`]). A derivation with several outputs counts
//! once when built, while each fetched output path counts once.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;

/// A full store path such as `/nix/store/<hash>-<name>`.
pub type StorePath = String;

/// Where Nix keeps its store unless a JSON document says otherwise.
pub const DEFAULT_STORE_DIR: &str = "/nix/store";

/// Overrides the `nix` binary (tests point it at a specific Nix).
pub const NIX_ENV: &str = "SHIP_NIX";
/// Extra arguments for every Nix call, shell-quoted, e.g. `--option substituters ''`.
pub const NIX_ARGS_ENV: &str = "SHIP_NIX_ARGS";

#[derive(Debug, thiserror::Error)]
pub enum NixError {
    #[error(
        "cannot run `{program}`: {source} (install Nix with flakes, or point {NIX_ENV} at it)"
    )]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}){}", tail_suffix(.stderr_tail))]
    Failed {
        command: String,
        status: String,
        stderr_tail: String,
    },
    #[error("`{command}` printed output ship cannot read: {message}")]
    Output { command: String, message: String },
    #[error(
        "Nix can neither build nor fetch {}: {} (not in the local store, no substituter has them, \
         and no derivation produces them)",
        if .paths.len() == 1 { "this path" } else { "these paths" },
        .paths.join(", ")
    )]
    Unbuildable { paths: Vec<StorePath> },
    #[error("{NIX_ARGS_ENV} / --nix-args `{value}`: {message}")]
    BadArgs { value: String, message: String },
}

fn tail_suffix(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!(":\n{tail}")
    }
}

/// `nix --version`, e.g. `nix (Nix) 2.8.0` -> (2, 8, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NixVersion(pub u32, pub u32, pub u32);

impl NixVersion {
    pub fn parse(output: &str) -> Option<Self> {
        // The last version-looking word: `nix (Nix) 2.8.0`, `nix (Determinate Nix 3.6.2) 2.29.0`.
        let word = output
            .split_whitespace()
            .rfind(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
        let mut parts = word
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Self(major, minor, patch))
    }

    /// The `--json-format` to ask `nix path-info` for: the flag exists from 2.33 and using
    /// `--json` without it is deprecated there; before 2.33 passing it is an error.
    pub fn path_info_json_format(self) -> Option<u32> {
        (self >= Self(2, 33, 0)).then_some(2)
    }
}

// ---------------------------------------------------------------------------------------------
// Dry run

/// What `nix build --dry-run` says it would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DryRun {
    /// Derivations (`.drv` paths) Nix would build.
    pub will_build: Vec<StorePath>,
    /// Store paths Nix would substitute from a binary cache.
    pub will_fetch: Vec<StorePath>,
    /// Paths Nix can neither build nor fetch ("don't know how to build these paths").
    pub unknown: Vec<StorePath>,
    /// Download size of the fetched paths, as Nix rendered it (rounded).
    pub download_bytes: Option<u64>,
    /// Unpacked (NAR) size of the fetched paths, as Nix rendered it (rounded).
    pub unpacked_bytes: Option<u64>,
    /// One entry per installable, in the order given (from `--dry-run --json` on stdout).
    pub requested: Vec<Requested>,
}

/// What one installable resolves to before anything is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requested {
    pub installable: String,
    /// The derivation, or `None` for a plain store path.
    pub drv_path: Option<StorePath>,
    /// Output name -> path; the path is `None` when Nix cannot know it before building
    /// (content-addressed derivations). A plain store path is reported as output `out`.
    pub outputs: BTreeMap<String, Option<StorePath>>,
}

impl DryRun {
    pub fn built(&self) -> usize {
        self.will_build.len()
    }

    pub fn fetched(&self) -> usize {
        self.will_fetch.len()
    }

    /// `fetched / (fetched + built)`; `None` when nothing is missing locally (see the module
    /// documentation for what is counted).
    pub fn hit_rate(&self) -> Option<f64> {
        let total = self.built() + self.fetched();
        (total > 0).then(|| self.fetched() as f64 / total as f64)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Build,
    Fetch,
    Unknown,
}

/// Parses the stderr of `nix build --dry-run`. Accepts Nix 2.8's wording ("these 3 derivations
/// will be built:", "these 2 paths will be fetched (0.03 MiB download, 0.10 MiB unpacked):"),
/// the singular forms ("this derivation will be built:", "this path will be fetched (...)"),
/// current Nix's sizes ("178.1 KiB download") and old count-less headers ("these paths will be
/// fetched"). Any other line ends a list, so warnings or build noise in between are ignored.
pub fn parse_dry_run(stderr: &str) -> DryRun {
    let mut out = DryRun::default();
    let mut section: Option<Section> = None;
    for raw in stderr.lines() {
        let line = strip_ansi(raw);
        let trimmed = line.trim();
        if let Some(path) = line.strip_prefix("  ").map(str::trim) {
            if let (Some(s), true) = (section, path.starts_with('/')) {
                let list = match s {
                    Section::Build => &mut out.will_build,
                    Section::Fetch => &mut out.will_fetch,
                    Section::Unknown => &mut out.unknown,
                };
                list.push(path.to_owned());
                continue;
            }
        }
        section = None;
        if trimmed.ends_with(" will be built:") {
            section = Some(Section::Build);
        } else if trimmed.starts_with("don't know how to build these paths")
            && trimmed.ends_with(':')
        {
            section = Some(Section::Unknown);
        } else if let Some((_, sizes)) = trimmed
            .split_once(" will be fetched")
            .filter(|(head, _)| head.starts_with("this path") || head.starts_with("these "))
        {
            section = Some(Section::Fetch);
            let (download, unpacked) = parse_fetch_sizes(sizes);
            out.download_bytes = download;
            out.unpacked_bytes = unpacked;
        }
    }
    out
}

/// `(1.50 MiB download, 5.00 MiB unpacked):` -> bytes, as precise as Nix printed them.
fn parse_fetch_sizes(text: &str) -> (Option<u64>, Option<u64>) {
    let inner = text
        .trim()
        .trim_end_matches(':')
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')');
    let mut download = None;
    let mut unpacked = None;
    for part in inner.split(',') {
        let part = part.trim();
        if let Some(size) = part.strip_suffix(" download") {
            download = parse_size(size);
        } else if let Some(size) = part.strip_suffix(" unpacked") {
            unpacked = parse_size(size);
        }
    }
    (download, unpacked)
}

/// `1.50 MiB`, `178.1 KiB`, `512 bytes` -> bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let (number, unit) = text.trim().split_once(' ')?;
    let value: f64 = number.parse().ok()?;
    let power = match unit.trim() {
        "B" | "bytes" => 0,
        "KiB" => 1,
        "MiB" => 2,
        "GiB" => 3,
        "TiB" => 4,
        "PiB" => 5,
        _ => return None,
    };
    let bytes = value * 1024f64.powi(power);
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes.round() as u64)
}

/// Nix colours its messages when it thinks stderr is a terminal (or FORCE_COLOR is set).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Build

/// One entry of `nix build --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Built {
    /// The derivation, or `None` for a plain store path.
    pub drv_path: Option<StorePath>,
    /// Output name -> path (a plain store path is reported as output `out`).
    pub outputs: BTreeMap<String, StorePath>,
}

/// Parses the JSON that `nix build --json` prints on stdout: Nix 2.8's
/// `[{"drvPath":..,"outputs":{"out":..}}, {"path":..}]`, current Nix's bare strings for plain
/// store paths, extra fields (`startTime`, ...) ignored. The order is Nix's, which is NOT the
/// order of the installables (Nix 2.8 returns its goals sorted by name): match by `drv_path`.
pub fn parse_build_json(json: &str) -> Result<Vec<Built>, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = value
        .as_array()
        .ok_or_else(|| "expected a JSON array".to_owned())?;
    items
        .iter()
        .map(|item| {
            let (drv_path, outputs) = parse_derived_path(item)?;
            let outputs = outputs
                .into_iter()
                .map(|(name, path)| {
                    path.map(|p| (name.clone(), p))
                        .ok_or_else(|| format!("output `{name}` has no path after the build"))
                })
                .collect::<Result<_, _>>()?;
            Ok(Built { drv_path, outputs })
        })
        .collect()
}

type DerivedPath = (Option<StorePath>, BTreeMap<String, Option<StorePath>>);

/// One element of `nix build [--dry-run] --json`: a derivation with outputs, or a plain path.
fn parse_derived_path(item: &Value) -> Result<DerivedPath, String> {
    let opaque = |p: &str| {
        let mut outputs = BTreeMap::new();
        outputs.insert("out".to_owned(), Some(p.to_owned()));
        Ok((None, outputs))
    };
    match item {
        Value::String(p) => opaque(p),
        Value::Object(map) => {
            if let Some(Value::String(p)) = map.get("path") {
                return opaque(p);
            }
            let drv_path = match map.get("drvPath") {
                Some(Value::String(d)) => d.clone(),
                // A dynamic derivation (an output of another derivation): its own path is
                // `outputPath` once known.
                Some(Value::Object(inner)) => inner
                    .get("outputPath")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| "a dynamic `drvPath` without `outputPath`".to_owned())?,
                _ => return Err(format!("an entry without `drvPath` or `path`: {item}")),
            };
            let mut outputs = BTreeMap::new();
            match map.get("outputs") {
                Some(Value::Object(outs)) => {
                    for (name, path) in outs {
                        outputs.insert(name.clone(), path.as_str().map(str::to_owned));
                    }
                }
                // Some versions list only output names before building.
                Some(Value::Array(names)) => {
                    for name in names.iter().filter_map(Value::as_str) {
                        outputs.insert(name.to_owned(), None);
                    }
                }
                _ => {}
            }
            Ok((Some(drv_path), outputs))
        }
        other => Err(format!("unexpected entry {other}")),
    }
}

/// The JSON `nix build --dry-run --json` prints on stdout, in installable order.
pub fn parse_dry_run_json(json: &str, installables: &[String]) -> Result<Vec<Requested>, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = value
        .as_array()
        .ok_or_else(|| "expected a JSON array".to_owned())?;
    if items.len() != installables.len() {
        return Err(format!(
            "{} entries for {} installables (each installable must name exactly one derivation \
             or store path)",
            items.len(),
            installables.len()
        ));
    }
    items
        .iter()
        .zip(installables)
        .map(|(item, installable)| {
            let (drv_path, outputs) = parse_derived_path(item)?;
            Ok(Requested {
                installable: installable.clone(),
                drv_path,
                outputs,
            })
        })
        .collect()
}

/// How one requested output got into the local store during this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputStatus {
    /// Its derivation was built here.
    Built,
    /// Substituted from a binary cache.
    Fetched,
    /// Already in the local store: neither built nor fetched.
    Local,
}

/// One installable after the build, in the order the caller gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    pub installable: String,
    pub drv_path: Option<StorePath>,
    pub outputs: BTreeMap<String, StorePath>,
    pub status: OutputStatus,
}

impl Output {
    /// The `out` output, or the only one.
    pub fn out(&self) -> Option<&str> {
        self.outputs
            .get("out")
            .or_else(|| (self.outputs.len() == 1).then(|| self.outputs.values().next())?)
            .map(String::as_str)
    }
}

/// A dry run then one build: the hit rate and every installable's outputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildOutcome {
    pub built: usize,
    pub fetched: usize,
    /// See the module documentation; `None` when nothing was missing locally.
    pub hit_rate: Option<f64>,
    pub download_bytes: Option<u64>,
    pub outputs: Vec<Output>,
    pub will_build: Vec<StorePath>,
    pub will_fetch: Vec<StorePath>,
}

/// Matches the build's results to the dry run's installables (by derivation, since Nix does not
/// keep the order) and classifies each output.
pub fn combine(dry: &DryRun, built: &[Built]) -> Result<BuildOutcome, String> {
    let will_build: BTreeSet<&str> = dry.will_build.iter().map(String::as_str).collect();
    let will_fetch: BTreeSet<&str> = dry.will_fetch.iter().map(String::as_str).collect();
    let mut outputs = Vec::with_capacity(dry.requested.len());
    for req in &dry.requested {
        let paths: BTreeMap<String, StorePath> = match &req.drv_path {
            Some(drv) => built
                .iter()
                .find(|b| b.drv_path.as_deref() == Some(drv))
                .map(|b| b.outputs.clone())
                .ok_or_else(|| {
                    format!("nix build reported nothing for {} ({drv})", req.installable)
                })?,
            None => req
                .outputs
                .iter()
                .filter_map(|(n, p)| p.clone().map(|p| (n.clone(), p)))
                .collect(),
        };
        let status = if req
            .drv_path
            .as_deref()
            .is_some_and(|d| will_build.contains(d))
        {
            OutputStatus::Built
        } else if paths.values().any(|p| will_fetch.contains(p.as_str())) {
            OutputStatus::Fetched
        } else {
            OutputStatus::Local
        };
        outputs.push(Output {
            installable: req.installable.clone(),
            drv_path: req.drv_path.clone(),
            outputs: paths,
            status,
        });
    }
    Ok(BuildOutcome {
        built: dry.built(),
        fetched: dry.fetched(),
        hit_rate: dry.hit_rate(),
        download_bytes: dry.download_bytes,
        outputs,
        will_build: dry.will_build.clone(),
        will_fetch: dry.will_fetch.clone(),
    })
}

impl BuildOutcome {
    /// `3 built, 1 fetched, cache hit rate 25%` or `... n/a (nothing missing locally)`.
    pub fn summary(&self) -> String {
        let rate = match self.hit_rate {
            Some(r) => format!("{:.0}%", r * 100.0),
            None => "n/a (nothing to build or fetch: all already in the local store)".to_owned(),
        };
        format!(
            "{} derivation{} built, {} path{} fetched, cache hit rate {rate}",
            self.built,
            plural(self.built),
            self.fetched,
            plural(self.fetched)
        )
    }

    /// For people: one line per installable, then the summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let width = self
            .outputs
            .iter()
            .map(|o| o.installable.len())
            .max()
            .unwrap_or(0);
        for o in &self.outputs {
            let status = match o.status {
                OutputStatus::Built => "built",
                OutputStatus::Fetched => "fetched",
                OutputStatus::Local => "local",
            };
            let paths: Vec<&str> = o.outputs.values().map(String::as_str).collect();
            out.push_str(&format!(
                "{status:<7}  {:<width$}  {}\n",
                o.installable,
                paths.join(" ")
            ));
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// One Markdown line for $GITHUB_STEP_SUMMARY.
    pub fn markdown(&self) -> String {
        let names: Vec<String> = self
            .outputs
            .iter()
            .map(|o| format!("`{}`", o.installable))
            .collect();
        format!("- **nix build** {}: {}\n", names.join(", "), self.summary())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

// ---------------------------------------------------------------------------------------------
// path-info

/// One store object as `nix path-info --json` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathInfo {
    pub path: StorePath,
    /// False when the store does not have the path (Nix 2.8: `"valid": false`; 2.19+: `null`).
    pub valid: bool,
    pub nar_size: u64,
    /// Only with `-S`.
    pub closure_size: Option<u64>,
    /// `key-name:base64`, whatever shape Nix printed them in.
    pub signatures: Vec<String>,
    pub deriver: Option<StorePath>,
    pub references: Vec<StorePath>,
}

impl PathInfo {
    fn invalid(path: StorePath) -> Self {
        Self {
            path,
            valid: false,
            nar_size: 0,
            closure_size: None,
            signatures: Vec::new(),
            deriver: None,
            references: Vec::new(),
        }
    }

    /// True when one of the signatures was made by the key named `key` (e.g.
    /// `cache.nixos.org-1`). The signature itself is not checked: the local store only keeps
    /// signatures it already trusted, and a binary cache's are checked by whoever fetches.
    pub fn signed_by(&self, key: &str) -> bool {
        self.signatures
            .iter()
            .any(|s| s.split_once(':').is_some_and(|(name, _)| name == key))
    }

    /// The name part of the path (`hello-2.12` of `/nix/store/<hash>-hello-2.12`).
    pub fn name(&self) -> &str {
        store_path_name(&self.path)
    }
}

/// The name part of a store path: everything after `<hash>-` of its last component.
pub fn store_path_name(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    match base.split_once('-') {
        Some((hash, name)) if hash.len() == 32 => name,
        _ => base,
    }
}

/// Parses `nix path-info --json` in every shape Nix has printed:
/// - Nix 2.8 to 2.18: an ARRAY of objects with `path` (`{"path":..,"valid":false}` for a
///   missing one);
/// - Nix 2.19 to 2.32 (and `--json-format 1` from 2.33): an OBJECT keyed by full store path,
///   `null` for a missing one (2.33+ adds `version` and `storeDir` to each entry);
/// - Nix 2.33+ `--json-format 2` / 2.35+ `--json-format 3`:
///   `{"version":N,"storeDir":"/nix/store","info":{"<hash>-<name>": {..} | null}}` with store
///   path base names in keys, `references` and `deriver`, structured `narHash`/`ca`, and in
///   version 3 signatures as `{"keyName":..,"sig":..}` objects.
pub fn parse_path_info(json: &str) -> Result<Vec<PathInfo>, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    match &value {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let path = item
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("an entry without `path`: {item}"))?;
                if item.get("valid").and_then(Value::as_bool) == Some(false) {
                    return Ok(PathInfo::invalid(path.to_owned()));
                }
                path_info_entry(path.to_owned(), item, DEFAULT_STORE_DIR)
            })
            .collect(),
        Value::Object(map) => {
            let versioned = map.get("version").is_some_and(Value::is_u64)
                && map.get("info").is_some_and(Value::is_object);
            let (entries, store_dir) = if versioned {
                let dir = map
                    .get("storeDir")
                    .and_then(Value::as_str)
                    .unwrap_or(DEFAULT_STORE_DIR);
                (map.get("info").and_then(Value::as_object), dir)
            } else {
                (Some(map), DEFAULT_STORE_DIR)
            };
            let Some(entries) = entries else {
                return Ok(Vec::new());
            };
            entries
                .iter()
                .map(|(key, entry)| {
                    let path = full_path(key, store_dir);
                    if entry.is_null() {
                        Ok(PathInfo::invalid(path))
                    } else {
                        let dir = entry
                            .get("storeDir")
                            .and_then(Value::as_str)
                            .unwrap_or(store_dir);
                        path_info_entry(full_path(key, dir), entry, dir)
                    }
                })
                .collect()
        }
        other => Err(format!("expected a JSON array or object, got {other}")),
    }
}

fn full_path(name: &str, store_dir: &str) -> StorePath {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("{}/{name}", store_dir.trim_end_matches('/'))
    }
}

fn path_info_entry(path: StorePath, entry: &Value, store_dir: &str) -> Result<PathInfo, String> {
    let nar_size = entry
        .get("narSize")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("{path}: no `narSize`"))?;
    let references = entry
        .get("references")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(Value::as_str)
                .map(|r| full_path(r, store_dir))
                .collect()
        })
        .unwrap_or_default();
    let signatures = entry
        .get("signatures")
        .and_then(Value::as_array)
        .map(|sigs| {
            sigs.iter()
                .filter_map(|s| match s {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => Some(format!(
                        "{}:{}",
                        o.get("keyName")?.as_str()?,
                        o.get("sig")?.as_str()?
                    )),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(PathInfo {
        nar_size,
        closure_size: entry.get("closureSize").and_then(Value::as_u64),
        signatures,
        deriver: entry
            .get("deriver")
            .and_then(Value::as_str)
            .map(|d| full_path(d, store_dir)),
        references,
        valid: true,
        path,
    })
}

/// How to query path info.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathInfoQuery<'a> {
    /// `-r`: the closures of the paths.
    pub recursive: bool,
    /// `-S`: closure sizes.
    pub closure_size: bool,
    /// `--store URL`: ask another store (a binary cache) instead of the local one.
    pub store: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// Command lines

/// Arguments of `nix build --dry-run --json`.
pub fn dry_run_args(installables: &[String]) -> Vec<String> {
    let mut args = strings(&["build", "--dry-run", "--json"]);
    args.extend(installables.iter().cloned());
    args
}

/// Arguments of the one `nix build` of everything: no out-links (nothing to clean up), JSON
/// on stdout. Nix builds independent derivations in parallel up to its `max-jobs`.
pub fn build_args(installables: &[String]) -> Vec<String> {
    let mut args = strings(&["build", "--json", "--no-link"]);
    args.extend(installables.iter().cloned());
    args
}

/// Arguments of `nix path-info --json`.
pub fn path_info_args(
    paths: &[String],
    query: &PathInfoQuery<'_>,
    json_format: Option<u32>,
) -> Vec<String> {
    let mut args = strings(&["path-info", "--json"]);
    if let Some(v) = json_format {
        args.extend(["--json-format".to_owned(), v.to_string()]);
    }
    if query.recursive {
        args.push("--recursive".to_owned());
    }
    if query.closure_size {
        args.push("--closure-size".to_owned());
    }
    if let Some(store) = query.store {
        // A "not there" answer from a binary cache is remembered for an hour by default
        // (narinfo-cache-negative-ttl); a presence check must see what was pushed since.
        args.extend(strings(&[
            "--store",
            store,
            "--option",
            "narinfo-cache-negative-ttl",
            "0",
        ]));
    }
    args.extend(paths.iter().cloned());
    args
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Splits `SHIP_NIX_ARGS` the way a POSIX shell splits words: blanks separate, '...' and "..."
/// quote (so `--option substituters ''` gives an empty third word), backslash escapes.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated '".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated \"".to_owned()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated \"".to_owned()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("trailing \\".to_owned()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// A setting or query parameter whose value is a secret (or points at one): its value is
/// never printed.
fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["secret", "token", "password", "passwd", "ssh-key"]
        .iter()
        .any(|s| name.contains(s))
}

/// A store URL fit to print: the password of `user:password@` and the value of every query
/// parameter naming a secret (`secret-key=`, `ssh-key=`, `...token=`) become `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => before_query.split_at(i),
        None => (before_query, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let mut out = format!("{scheme}://{authority}{path}");
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if is_secret_name(name) => format!("{name}=***"),
                _ => param.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// The values [`redact_url`] hides: the password of `user:password@` and every secret query
/// parameter's value.
pub fn url_secrets(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = before_query.split('/').next().unwrap_or("");
    let mut secrets = Vec::new();
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if let Some((_, password)) = userinfo.split_once(':') {
            secrets.push(password.to_owned());
        }
    }
    for param in query.split('&') {
        if let Some((name, value)) = param.split_once('=') {
            if is_secret_name(name) && !value.is_empty() {
                secrets.push(value.to_owned());
            }
        }
    }
    secrets
}

/// A command line fit to print: shell-quoted, URLs redacted, values of secret settings
/// (`--option access-tokens ...`, `--secret-key-files ...`) replaced by `***`.
pub fn display_command(program: &str, args: &[String]) -> String {
    let mut words = vec![shell_quote(program)];
    let mut redact_next = false;
    for (i, arg) in args.iter().enumerate() {
        let shown = if redact_next {
            redact_next = false;
            "***".to_owned()
        } else if arg.contains("://") {
            redact_url(arg)
        } else {
            arg.clone()
        };
        if i > 0 && args[i - 1] == "--option" && is_secret_name(arg) {
            redact_next = true;
        } else if let Some(flag) = arg.strip_prefix("--") {
            if is_secret_name(flag) && !flag.contains('=') {
                redact_next = true;
            }
        }
        words.push(shell_quote(&shown));
    }
    words.join(" ")
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,#*".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Replaces every occurrence of each secret value in `text` with `***`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret.as_str(), "***");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Processes

/// What a finished child process left behind.
pub(crate) struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// The last lines of a child's stderr, for error messages.
fn tail(stderr: &str, lines: usize) -> String {
    let all: Vec<&str> = stderr.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs a program; stderr is captured and, with `echo`, also copied line by line to ours as it
/// arrives (build logs, copy progress). Every secret value is scrubbed from both.
pub(crate) fn run_process(
    program: &OsString,
    args: &[String],
    stdin: Option<Vec<u8>>,
    echo: bool,
    secrets: &[String],
) -> Result<(std::process::ExitStatus, Captured), NixError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| NixError::Spawn {
            program: program.to_string_lossy().into_owned(),
            source,
        })?;
    let writer = match (stdin, child.stdin.take()) {
        (Some(data), Some(mut pipe)) => Some(std::thread::spawn(move || {
            // A child that exits without reading all of stdin is reported by its exit status.
            let _ = pipe.write_all(&data);
        })),
        _ => None,
    };
    let stderr_pipe = child.stderr.take();
    let scrub_with = secrets.to_vec();
    let reader = std::thread::spawn(move || {
        let mut collected = String::new();
        if let Some(pipe) = stderr_pipe {
            for line in BufReader::new(pipe).split(b'\n') {
                let Ok(line) = line else { break };
                let line = scrub(&String::from_utf8_lossy(&line), &scrub_with);
                if echo {
                    eprintln!("{line}");
                }
                collected.push_str(&line);
                collected.push('\n');
            }
        }
        collected
    });
    let mut stdout = Vec::new();
    if let Some(mut pipe) = child.stdout.take() {
        pipe.read_to_end(&mut stdout)
            .map_err(|source| NixError::Spawn {
                program: program.to_string_lossy().into_owned(),
                source,
            })?;
    }
    let status = child.wait().map_err(|source| NixError::Spawn {
        program: program.to_string_lossy().into_owned(),
        source,
    })?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stderr = reader.join().unwrap_or_default();
    Ok((status, Captured { stdout, stderr }))
}

/// `Failed` with the command (redacted) and the end of its stderr.
pub(crate) fn failed(
    program: &OsString,
    args: &[String],
    status: std::process::ExitStatus,
    stderr: &str,
) -> NixError {
    NixError::Failed {
        command: display_command(&program.to_string_lossy(), args),
        status: status.to_string(),
        stderr_tail: tail(stderr, 20),
    }
}

// ---------------------------------------------------------------------------------------------
// The I/O edge

/// How ship runs Nix: which binary, with which extra arguments.
#[derive(Debug, Clone)]
pub struct Nix {
    program: OsString,
    extra_args: Vec<String>,
    version: OnceLock<NixVersion>,
}

impl Nix {
    pub fn new(program: impl Into<OsString>, extra_args: Vec<String>) -> Self {
        Self {
            program: program.into(),
            extra_args,
            version: OnceLock::new(),
        }
    }

    /// `nix` (or `$SHIP_NIX`) with `extra` (the `--nix-args` flag) or else `$SHIP_NIX_ARGS`.
    pub fn from_env(extra: Option<&str>) -> Result<Self, NixError> {
        let program = std::env::var_os(NIX_ENV)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "nix".into());
        let text = match extra {
            Some(t) => t.to_owned(),
            None => std::env::var(NIX_ARGS_ENV).unwrap_or_default(),
        };
        let extra_args = split_words(&text).map_err(|message| NixError::BadArgs {
            value: text.clone(),
            message,
        })?;
        Ok(Self::new(program, extra_args))
    }

    pub fn program(&self) -> &OsString {
        &self.program
    }

    /// Every call gets the new CLI and flakes (Nix 2.8 ships them off), then the extra args.
    pub fn full_args(&self, args: &[String]) -> Vec<String> {
        let mut all = strings(&["--extra-experimental-features", "nix-command flakes"]);
        all.extend(self.extra_args.iter().cloned());
        all.extend(args.iter().cloned());
        all
    }

    /// The command line as ship would run it, fit to print.
    pub fn display(&self, args: &[String]) -> String {
        display_command(&self.program.to_string_lossy(), &self.full_args(args))
    }

    /// Runs `nix ARGS`, failing on a non-zero exit.
    pub(crate) fn run(&self, args: &[String], echo: bool) -> Result<Captured, NixError> {
        let full = self.full_args(args);
        let (status, captured) = run_process(&self.program, &full, None, echo, &[])?;
        if !status.success() {
            return Err(failed(&self.program, &full, status, &captured.stderr));
        }
        Ok(captured)
    }

    fn output_error(&self, args: &[String], message: String) -> NixError {
        NixError::Output {
            command: self.display(args),
            message,
        }
    }

    pub fn version(&self) -> Result<NixVersion, NixError> {
        if let Some(v) = self.version.get() {
            return Ok(*v);
        }
        let args = strings(&["--version"]);
        let out = self.run(&args, false)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let v = NixVersion::parse(&text)
            .ok_or_else(|| self.output_error(&args, format!("no version in `{}`", text.trim())))?;
        Ok(*self.version.get_or_init(|| v))
    }

    /// The system this Nix builds for natively, e.g. `x86_64-linux`.
    pub fn current_system(&self) -> Result<String, NixError> {
        let args = strings(&[
            "eval",
            "--impure",
            "--raw",
            "--expr",
            "builtins.currentSystem",
        ]);
        let out = self.run(&args, false)?;
        let system = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if system.is_empty() {
            return Err(self.output_error(&args, "no system printed".into()));
        }
        Ok(system)
    }

    // --- remote builders (issue 13): what this Nix can build, and whether a builder answers.

    /// `nix config show --json` (`nix show-config --json` before Nix 2.20, where it was
    /// renamed): every setting, for [`crate::builders::parse_settings_json`].
    pub fn settings_json(&self) -> Result<String, NixError> {
        let args = if self.version()? >= NixVersion(2, 20, 0) {
            strings(&["config", "show", "--json"])
        } else {
            strings(&["show-config", "--json"])
        };
        let out = self.run(&args, false)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Connects to a store the way a build would (`nix store info`, `nix store ping` before
    /// 2.20): fails, with Nix's own message, when the builder is down or refuses us.
    pub fn check_store(&self, url: &str) -> Result<(), NixError> {
        let verb = if self.version()? >= NixVersion(2, 20, 0) {
            "info"
        } else {
            "ping"
        };
        let args = strings(&["store", verb, "--store", url]);
        // Nix prints the store URL, query parameters included: scrub what redact_url hides.
        let full = self.full_args(&args);
        let (status, captured) = run_process(&self.program, &full, None, false, &url_secrets(url))?;
        if !status.success() {
            return Err(failed(&self.program, &full, status, &captured.stderr));
        }
        Ok(())
    }

    /// `nix build --dry-run`: what would be built and fetched, and what each installable
    /// resolves to. Fails when Nix could neither build nor fetch some path.
    pub fn dry_run(&self, installables: &[String]) -> Result<DryRun, NixError> {
        let args = dry_run_args(installables);
        let out = self.run(&args, false)?;
        let mut dry = parse_dry_run(&out.stderr);
        if !dry.unknown.is_empty() {
            return Err(NixError::Unbuildable {
                paths: dry.unknown.clone(),
            });
        }
        dry.requested = parse_dry_run_json(&String::from_utf8_lossy(&out.stdout), installables)
            .map_err(|m| self.output_error(&args, m))?;
        Ok(dry)
    }

    /// ONE `nix build --json --no-link` of every installable, so Nix schedules them together.
    /// Build logs go to stderr as they come. Results are in Nix's order (see
    /// [`parse_build_json`]); [`Nix::build_measured`] maps them back to the installables.
    pub fn build(&self, installables: &[String]) -> Result<Vec<Built>, NixError> {
        let args = build_args(installables);
        let out = self.run(&args, true)?;
        parse_build_json(&String::from_utf8_lossy(&out.stdout))
            .map_err(|m| self.output_error(&args, m))
    }

    /// The dry run, then the build: every installable's outputs in the order given, and what
    /// had to be built versus fetched. Duplicate installables are built once.
    pub fn build_measured(&self, installables: &[String]) -> Result<BuildOutcome, NixError> {
        let mut unique: Vec<String> = Vec::new();
        for i in installables {
            if !unique.contains(i) {
                unique.push(i.clone());
            }
        }
        let dry = self.dry_run(&unique)?;
        let built = self.build(&unique)?;
        combine(&dry, &built).map_err(|m| self.output_error(&build_args(&unique), m))
    }

    /// `nix path-info --json` of `paths` (store paths or installables that are already built).
    pub fn path_info(
        &self,
        paths: &[String],
        query: &PathInfoQuery<'_>,
    ) -> Result<Vec<PathInfo>, NixError> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let format = self.version()?.path_info_json_format();
        let args = path_info_args(paths, query, format);
        let out = self.run(&args, false)?;
        parse_path_info(&String::from_utf8_lossy(&out.stdout))
            .map_err(|m| self.output_error(&args, m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "kfkdfxxni668v24yx1isc2q240dxids4";
    const H2: &str = "kmggdjca695z4yw76py83i4cz4rm74yb";
    const H3: &str = "xmgljw81f084mp8s72r3k4839carjzyp";

    fn p(hash: &str, name: &str) -> String {
        format!("/nix/store/{hash}-{name}")
    }

    #[test]
    fn url_secrets_are_what_redact_url_hides() {
        let url = "ssh-ng://u:pw1234@arm?ssh-key=/k/id_arm&base64-ssh-public-host-key=AAAA";
        assert_eq!(url_secrets(url), ["pw1234", "/k/id_arm"]);
        let printed = format!("Store URL: {url}");
        assert_eq!(
            scrub(&printed, &url_secrets(url)),
            "Store URL: ssh-ng://u:***@arm?ssh-key=***&base64-ssh-public-host-key=AAAA"
        );
        assert!(url_secrets("daemon").is_empty());
    }

    #[test]
    fn dry_run_nix_2_8_wording() {
        // As Nix 2.8 printed it for the fixture flake (one line of noise in between).
        let stderr = format!(
            "warning: not writing modified lock file of flake\n\
             these 2 derivations will be built:\n  {}\n  {}\n\
             these 3 paths will be fetched (0.03 MiB download, 0.10 MiB unpacked):\n  {}\n  {}\n  {}\n",
            p(H1, "fixture-deps-0.1.0.drv"),
            p(H2, "fixture-0.1.0.drv"),
            p(H3, "fake-nss"),
            p(H1, "glibc-2.35"),
            p(H2, "bash-5.1"),
        );
        let dry = parse_dry_run(&stderr);
        assert_eq!(
            dry.will_build,
            vec![p(H1, "fixture-deps-0.1.0.drv"), p(H2, "fixture-0.1.0.drv")]
        );
        assert_eq!(dry.will_fetch.len(), 3);
        assert_eq!(dry.download_bytes, Some(31457)); // 0.03 MiB
        assert_eq!(dry.unpacked_bytes, Some(104858));
        assert!(dry.unknown.is_empty());
        assert_eq!(dry.hit_rate(), Some(3.0 / 5.0));
    }

    #[test]
    fn dry_run_current_nix_wording() {
        // Current printMissing: singular headers and renderSize units.
        let stderr = format!(
            "this derivation will be built:\n  {}\n\
             this path will be fetched (178.1 KiB download, 1.2 MiB unpacked):\n  {}\n",
            p(H1, "a.drv"),
            p(H2, "b"),
        );
        let dry = parse_dry_run(&stderr);
        assert_eq!(dry.will_build, vec![p(H1, "a.drv")]);
        assert_eq!(dry.will_fetch, vec![p(H2, "b")]);
        assert_eq!(dry.download_bytes, Some((178.1f64 * 1024.0).round() as u64));
        assert_eq!(
            dry.unpacked_bytes,
            Some((1.2f64 * 1048576.0).round() as u64)
        );
        assert_eq!(dry.hit_rate(), Some(0.5));
    }

    #[test]
    fn dry_run_old_countless_headers_and_colour() {
        let stderr = format!(
            "\u{1b}[1mthese derivations will be built:\u{1b}[0m\n  {}\n\
             these paths will be fetched (1.00 MiB download, 2.00 MiB unpacked):\n  {}\n",
            p(H1, "a.drv"),
            p(H2, "b"),
        );
        let dry = parse_dry_run(&stderr);
        assert_eq!(dry.will_build.len(), 1);
        assert_eq!(dry.will_fetch.len(), 1);
        assert_eq!(dry.unpacked_bytes, Some(2 * 1048576));
    }

    #[test]
    fn dry_run_unknown_paths() {
        let stderr = format!(
            "don't know how to build these paths (may be caused by read-only store access):\n  {}\n",
            p(H3, "gone")
        );
        let dry = parse_dry_run(&stderr);
        assert_eq!(dry.unknown, vec![p(H3, "gone")]);
        assert!(dry.will_build.is_empty() && dry.will_fetch.is_empty());
        let e = NixError::Unbuildable {
            paths: dry.unknown.clone(),
        };
        assert!(e
            .to_string()
            .contains("can neither build nor fetch this path"));
    }

    #[test]
    fn dry_run_nothing_to_do_has_no_hit_rate() {
        let dry = parse_dry_run("");
        assert_eq!(dry.hit_rate(), None);
        let only_built = parse_dry_run(&format!(
            "this derivation will be built:\n  {}\n",
            p(H1, "a.drv")
        ));
        assert_eq!(only_built.hit_rate(), Some(0.0));
    }

    #[test]
    fn indented_lines_outside_a_list_are_ignored() {
        let dry = parse_dry_run(&format!("error: foo\n  {}\n", p(H1, "a")));
        assert_eq!(dry, DryRun::default());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512 bytes"), Some(512));
        assert_eq!(parse_size("1.50 MiB"), Some(1572864));
        assert_eq!(parse_size("2 GiB"), Some(2 << 30));
        assert_eq!(parse_size("3 furlongs"), None);
        assert_eq!(parse_size("x MiB"), None);
    }

    #[test]
    fn build_json_nix_2_8_and_current() {
        let json = format!(
            r#"[{{"drvPath":"{}","outputs":{{"out":"{}","dev":"{}"}}}},{{"path":"{}"}},"{}",
                {{"drvPath":"{}","outputs":{{"out":"{}"}},"startTime":1,"stopTime":2}}]"#,
            p(H1, "a.drv"),
            p(H1, "a"),
            p(H1, "a-dev"),
            p(H2, "src"),
            p(H3, "plain"),
            p(H3, "c.drv"),
            p(H3, "c"),
        );
        let built = parse_build_json(&json).unwrap();
        assert_eq!(built.len(), 4);
        assert_eq!(built[0].drv_path.as_deref(), Some(p(H1, "a.drv").as_str()));
        assert_eq!(built[0].outputs["dev"], p(H1, "a-dev"));
        assert_eq!(built[1].drv_path, None);
        assert_eq!(built[1].outputs["out"], p(H2, "src"));
        assert_eq!(built[2].outputs["out"], p(H3, "plain"));
        assert_eq!(built[3].outputs["out"], p(H3, "c"));
        assert!(parse_build_json("{}").is_err());
        assert!(parse_build_json(&format!(
            r#"[{{"drvPath":"{}","outputs":{{"out":null}}}}]"#,
            p(H1, "a.drv")
        ))
        .is_err());
    }

    fn dry_with(requested: Vec<Requested>, build: &[&str], fetch: &[&str]) -> DryRun {
        DryRun {
            will_build: build.iter().map(|s| s.to_string()).collect(),
            will_fetch: fetch.iter().map(|s| s.to_string()).collect(),
            requested,
            ..DryRun::default()
        }
    }

    #[test]
    fn dry_run_json_keeps_installable_order() {
        let json = format!(
            r#"[{{"drvPath":"{}","outputs":{{"out":"{}"}}}},{{"path":"{}"}}]"#,
            p(H2, "image.drv"),
            p(H2, "image"),
            p(H1, "deps")
        );
        let inst = vec![".#image-dev".to_owned(), p(H1, "deps")];
        let req = parse_dry_run_json(&json, &inst).unwrap();
        assert_eq!(req[0].installable, ".#image-dev");
        assert_eq!(
            req[0].outputs["out"].as_deref(),
            Some(p(H2, "image").as_str())
        );
        assert_eq!(req[1].drv_path, None);
        let err = parse_dry_run_json(&json, &inst[..1]).unwrap_err();
        assert!(err.contains("2 entries for 1 installables"), "{err}");
    }

    #[test]
    fn combine_maps_by_derivation_and_classifies() {
        let req = |name: &str, hash: &str| Requested {
            installable: format!(".#{name}"),
            drv_path: Some(p(hash, &format!("{name}.drv"))),
            outputs: [("out".to_owned(), Some(p(hash, name)))].into(),
        };
        let dry = dry_with(
            vec![req("image", H1), req("app", H2), req("deps", H3)],
            &[&p(H1, "image.drv")],
            &[&p(H2, "app")],
        );
        // Nix's order, not ours.
        let built: Vec<Built> = [("deps", H3), ("image", H1), ("app", H2)]
            .iter()
            .map(|(n, h)| Built {
                drv_path: Some(p(h, &format!("{n}.drv"))),
                outputs: [("out".to_owned(), p(h, n))].into(),
            })
            .collect();
        let outcome = combine(&dry, &built).unwrap();
        let got: Vec<(&str, Option<&str>, OutputStatus)> = outcome
            .outputs
            .iter()
            .map(|o| (o.installable.as_str(), o.out(), o.status))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    ".#image",
                    Some(p(H1, "image").as_str()),
                    OutputStatus::Built
                ),
                (".#app", Some(p(H2, "app").as_str()), OutputStatus::Fetched),
                (".#deps", Some(p(H3, "deps").as_str()), OutputStatus::Local),
            ]
        );
        assert_eq!((outcome.built, outcome.fetched), (1, 1));
        assert_eq!(outcome.hit_rate, Some(0.5));
        assert!(outcome
            .text()
            .contains("1 derivation built, 1 path fetched, cache hit rate 50%"));
        assert!(outcome
            .markdown()
            .starts_with("- **nix build** `.#image`, `.#app`, `.#deps`: "));
        let missing = combine(&dry, &built[..1]).unwrap_err();
        assert!(missing.contains("nothing for .#image"), "{missing}");
    }

    #[test]
    fn summary_when_everything_is_local() {
        let outcome = combine(&dry_with(Vec::new(), &[], &[]), &[]).unwrap();
        assert_eq!(outcome.hit_rate, None);
        assert!(outcome.summary().contains("hit rate n/a"));
    }

    fn sig(key: &str) -> String {
        format!("{key}:c2lnbmF0dXJl")
    }

    #[test]
    fn path_info_nix_2_8_array() {
        let json = format!(
            r#"[{{"path":"{}","valid":false}},
                {{"path":"{}","narHash":"sha256-x","narSize":764568,"references":["{}"],
                  "closureSize":800000,"deriver":"{}","signatures":["{}"],"ultimate":true}}]"#,
            p(H1, "gone"),
            p(H2, "app"),
            p(H3, "glibc"),
            p(H2, "app.drv"),
            sig("test-1"),
        );
        let infos = parse_path_info(&json).unwrap();
        assert_eq!(infos[0], PathInfo::invalid(p(H1, "gone")));
        let app = &infos[1];
        assert!(app.valid);
        assert_eq!(app.nar_size, 764568);
        assert_eq!(app.closure_size, Some(800000));
        assert_eq!(app.references, vec![p(H3, "glibc")]);
        assert_eq!(app.deriver.as_deref(), Some(p(H2, "app.drv").as_str()));
        assert!(app.signed_by("test-1"));
        assert!(!app.signed_by("cache.nixos.org-1"));
        assert_eq!(app.name(), "app");
    }

    #[test]
    fn path_info_nix_2_19_object() {
        let json = format!(
            r#"{{"{}":null,"{}":{{"narHash":"sha256-x","narSize":10,"references":[],
                "deriver":null,"signatures":["{}"],"ca":null,"registrationTime":1}}}}"#,
            p(H1, "gone"),
            p(H2, "glibc"),
            sig("cache.nixos.org-1"),
        );
        let infos = parse_path_info(&json).unwrap();
        assert_eq!(infos.len(), 2);
        let gone = infos.iter().find(|i| i.path == p(H1, "gone")).unwrap();
        assert!(!gone.valid);
        let glibc = infos.iter().find(|i| i.path == p(H2, "glibc")).unwrap();
        assert!(glibc.signed_by("cache.nixos.org-1"));
        assert_eq!(glibc.deriver, None);
    }

    #[test]
    fn path_info_nix_2_33_format_1_object() {
        // --json-format 1 from 2.33: the 2.19 object, each entry with version and storeDir.
        let json = format!(
            r#"{{"{}":{{"version":1,"storeDir":"/nix/store","narHash":"sha256-x","narSize":5,
                "references":["{}"],"ca":null,"deriver":"{}","registrationTime":null,
                "ultimate":false,"signatures":[]}}}}"#,
            p(H1, "a"),
            p(H2, "b"),
            p(H1, "a.drv")
        );
        let infos = parse_path_info(&json).unwrap();
        assert_eq!(infos[0].references, vec![p(H2, "b")]);
        assert_eq!(infos[0].nar_size, 5);
    }

    #[test]
    fn path_info_versioned_2_and_3() {
        // --json-format 2 (2.33+): base names, structured narHash/ca, string signatures.
        let v2 = format!(
            r#"{{"version":2,"storeDir":"/nix/store","info":{{
                "{H1}-gone":null,
                "{H2}-app":{{"version":2,"storeDir":"/nix/store",
                  "narHash":{{"algorithm":"sha256","format":"base16","hash":"15e3"}},
                  "narSize":42,"references":["{H3}-glibc","{H2}-app"],"ca":null,
                  "deriver":"{H2}-app.drv","registrationTime":1,"ultimate":true,
                  "signatures":["{}"],"closureSize":99}}}}}}"#,
            sig("test-1")
        );
        let infos = parse_path_info(&v2).unwrap();
        let app = infos.iter().find(|i| i.valid).unwrap();
        assert_eq!(app.path, p(H2, "app"));
        assert_eq!(app.references, vec![p(H3, "glibc"), p(H2, "app")]);
        assert_eq!(app.deriver.as_deref(), Some(p(H2, "app.drv").as_str()));
        assert_eq!(app.closure_size, Some(99));
        assert!(app.signed_by("test-1"));
        assert!(infos.iter().any(|i| !i.valid && i.path == p(H1, "gone")));

        // --json-format 3 (2.35+): signatures as {keyName, sig}; another store dir.
        let v3 = format!(
            r#"{{"version":3,"storeDir":"/opt/store","info":{{"{H1}-glibc":{{"version":3,
                "storeDir":"/opt/store","narHash":{{"algorithm":"sha256","format":"base16","hash":"00"}},
                "narSize":7,"references":[],"ca":null,"deriver":null,"registrationTime":null,
                "ultimate":false,"signatures":[{{"keyName":"cache.nixos.org-1","sig":"AAAA"}}]}}}}}}"#
        );
        let infos = parse_path_info(&v3).unwrap();
        assert_eq!(infos[0].path, format!("/opt/store/{H1}-glibc"));
        assert_eq!(
            infos[0].signatures,
            vec!["cache.nixos.org-1:AAAA".to_owned()]
        );
        assert!(infos[0].signed_by("cache.nixos.org-1"));
    }

    #[test]
    fn path_info_rejects_garbage() {
        assert!(parse_path_info("42").is_err());
        assert!(parse_path_info("[{\"narSize\":1}]").is_err());
        assert!(parse_path_info(&format!("[{{\"path\":\"{}\"}}]", p(H1, "a"))).is_err());
    }

    #[test]
    fn versions() {
        let v = NixVersion::parse("nix (Nix) 2.8.0\n").unwrap();
        assert_eq!(v, NixVersion(2, 8, 0));
        assert_eq!(v.path_info_json_format(), None);
        let v = NixVersion::parse("nix (Nix) 2.33.0pre20250101_abcdef").unwrap();
        assert_eq!(v, NixVersion(2, 33, 0));
        assert_eq!(v.path_info_json_format(), Some(2));
        assert_eq!(
            NixVersion::parse("nix (Determinate Nix 3.6.2) 2.29.0").unwrap(),
            NixVersion(2, 29, 0)
        );
        assert_eq!(NixVersion::parse("nothing"), None);
    }

    #[test]
    fn command_lines() {
        let inst = vec![".#image-dev".to_owned(), ".#deps-dev".to_owned()];
        assert_eq!(
            dry_run_args(&inst),
            strings(&["build", "--dry-run", "--json", ".#image-dev", ".#deps-dev"])
        );
        assert_eq!(
            build_args(&inst),
            strings(&["build", "--json", "--no-link", ".#image-dev", ".#deps-dev"])
        );
        let q = PathInfoQuery {
            recursive: true,
            closure_size: true,
            store: None,
        };
        assert_eq!(
            path_info_args(&inst[..1], &q, None),
            strings(&[
                "path-info",
                "--json",
                "--recursive",
                "--closure-size",
                ".#image-dev"
            ])
        );
        let q = PathInfoQuery {
            store: Some("file:///c"),
            ..PathInfoQuery::default()
        };
        assert_eq!(
            path_info_args(&inst[..1], &q, Some(2)),
            strings(&[
                "path-info",
                "--json",
                "--json-format",
                "2",
                "--store",
                "file:///c",
                "--option",
                "narinfo-cache-negative-ttl",
                "0",
                ".#image-dev"
            ])
        );
        let nix = Nix::new("nix", strings(&["--option", "substituters", ""]));
        assert_eq!(
            nix.display(&build_args(&inst[..1])),
            "nix --extra-experimental-features 'nix-command flakes' --option substituters '' \
             build --json --no-link .#image-dev"
        );
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            split_words("--option substituters ''").unwrap(),
            strings(&["--option", "substituters", ""])
        );
        assert_eq!(
            split_words(r#"  -L --option trusted-public-keys "k-1:abc= k-2:def"  a\ b "x\"y" "#)
                .unwrap(),
            strings(&[
                "-L",
                "--option",
                "trusted-public-keys",
                "k-1:abc= k-2:def",
                "a b",
                "x\"y"
            ])
        );
        assert_eq!(split_words("").unwrap(), Vec::<String>::new());
        assert!(split_words("'open").is_err());
        assert!(split_words("\"open").is_err());
        assert!(split_words("x\\").is_err());
    }

    #[test]
    fn urls_and_commands_are_redacted() {
        assert_eq!(
            redact_url("file:///tmp/c?compression=zstd&secret-key=/run/keys/cache.sec"),
            "file:///tmp/c?compression=zstd&secret-key=***"
        );
        assert_eq!(
            redact_url("s3://bucket?region=eu-west-1&profile=ci"),
            "s3://bucket?region=eu-west-1&profile=ci"
        );
        assert_eq!(
            redact_url("https://user:hunter22@cache.example.org/nix?token=abcd"),
            "https://user:***@cache.example.org/nix?token=***"
        );
        assert_eq!(
            redact_url("ssh-ng://builder@host?ssh-key=/root/.ssh/id"),
            "ssh-ng://builder@host?ssh-key=***"
        );
        assert_eq!(redact_url("cachix:name"), "cachix:name");
        let shown = display_command(
            "nix",
            &strings(&[
                "--option",
                "access-tokens",
                "github.com=ghp_secret",
                "--secret-key-files",
                "/k",
                "--option",
                "trusted-public-keys",
                "t-1:pub",
                "copy",
                "--to",
                "file:///c?secret-key=/k",
            ]),
        );
        assert!(!shown.contains("ghp_secret"), "{shown}");
        assert!(!shown.contains("/k"), "{shown}");
        assert!(shown.contains("trusted-public-keys t-1:pub"), "{shown}");
        assert!(shown.contains("'file:///c?secret-key=***'"), "{shown}");
    }

    #[test]
    fn scrub_replaces_secret_values() {
        assert_eq!(
            scrub("token abcd1234 and abcd1234", &["abcd1234".to_owned()]),
            "token *** and ***"
        );
        // Too short to be a real secret: scrubbing it would mangle everything.
        assert_eq!(scrub("a b", &["a".to_owned()]), "a b");
    }

    #[test]
    fn store_path_names() {
        assert_eq!(
            store_path_name(&p(H1, "docker-image-x.tar")),
            "docker-image-x.tar"
        );
        assert_eq!(store_path_name("/nix/store/short-name"), "short-name");
    }
}
