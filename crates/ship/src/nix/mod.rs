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

mod build;
mod dry_run;
mod path_info;
mod settings;

pub use build::{combine, parse_build_json, BuildOutcome, BuildResult, Output, OutputStatus};
pub use dry_run::{hit_rate, parse_dry_run, parse_dry_run_json, parse_size, DryRun, Requested};
pub use path_info::{parse_path_info, store_path_name, PathInfo, PathInfoQuery};

use std::ffi::OsString;
use std::sync::OnceLock;

use crate::exec::{split_words, ExecError, Output as ProcessOutput, Process};
use crate::redact::display_command;

/// A full store path such as `/nix/store/<hash>-<name>`.
pub type StorePath = String;

/// Where Nix keeps its store unless a JSON document says otherwise.
pub const DEFAULT_STORE_DIR: &str = "/nix/store";

/// Overrides the `nix` binary (tests point it at a specific Nix).
pub const NIX_ENV: &str = "SHIP_NIX";
/// Extra arguments for every Nix call, shell-quoted, e.g. `--option substituters ''`.
pub const NIX_ARGS_ENV: &str = "SHIP_NIX_ARGS";
/// What to do when `nix` cannot be started.
const NIX_HINT: &str = "install Nix with flakes, or point SHIP_NIX at it";

#[derive(Debug, thiserror::Error)]
pub enum NixError {
    #[error(transparent)]
    Exec(#[from] ExecError),
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

    /// `nix ARGS` as a process to run.
    pub(crate) fn process(&self, args: &[String]) -> Process {
        Process::new(&self.program)
            .args(&self.full_args(args))
            .hint(NIX_HINT)
    }

    /// Runs `nix ARGS`, failing on a non-zero exit.
    fn run(&self, args: &[String], echo: bool) -> Result<ProcessOutput, NixError> {
        Ok(self.process(args).echo(echo).run()?)
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
    pub fn build(&self, installables: &[String]) -> Result<Vec<BuildResult>, NixError> {
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

/// Store paths shared by the unit tests of the parsers.
#[cfg(test)]
pub(crate) mod test_paths {
    pub(crate) const H1: &str = "kfkdfxxni668v24yx1isc2q240dxids4";
    pub(crate) const H2: &str = "kmggdjca695z4yw76py83i4cz4rm74yb";
    pub(crate) const H3: &str = "xmgljw81f084mp8s72r3k4839carjzyp";

    pub(crate) fn p(hash: &str, name: &str) -> String {
        format!("/nix/store/{hash}-{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
