//! Reading `nix build --dry-run`: what Nix would build and what it would fetch (its stderr,
//! in the wording of Nix 2.8 and current Nix), and what each installable resolves to (its JSON).
//! The cache hit rate is defined here; see [`crate::nix`] for the definition in words.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::build::parse_derived_path;
use super::StorePath;

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
        hit_rate(self.built(), self.fetched())
    }
}

/// `fetched / (fetched + built)`; `None` when nothing was missing locally (not a made-up 100%).
pub fn hit_rate(built: usize, fetched: usize) -> Option<f64> {
    let total = built + fetched;
    (total > 0).then(|| fetched as f64 / total as f64)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nix::test_paths::*;
    use crate::nix::NixError;

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
}
