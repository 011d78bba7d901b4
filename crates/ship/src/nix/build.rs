//! Reading `nix build --json` and putting it together with the dry run: every installable's
//! outputs and whether each was built, fetched or already local ([`BuildOutcome`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::dry_run::DryRun;
use super::StorePath;

/// One entry of `nix build --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildResult {
    /// The derivation, or `None` for a plain store path.
    pub drv_path: Option<StorePath>,
    /// Output name -> path (a plain store path is reported as output `out`).
    pub outputs: BTreeMap<String, StorePath>,
}

/// Parses the JSON that `nix build --json` prints on stdout: Nix 2.8's
/// `[{"drvPath":..,"outputs":{"out":..}}, {"path":..}]`, current Nix's bare strings for plain
/// store paths, extra fields (`startTime`, ...) ignored. The order is Nix's, which is NOT the
/// order of the installables (Nix 2.8 returns its goals sorted by name): match by `drv_path`.
pub fn parse_build_json(json: &str) -> Result<Vec<BuildResult>, String> {
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
            Ok(BuildResult { drv_path, outputs })
        })
        .collect()
}

type DerivedPath = (Option<StorePath>, BTreeMap<String, Option<StorePath>>);

/// One element of `nix build [--dry-run] --json`: a derivation with outputs, or a plain path.
pub(super) fn parse_derived_path(item: &Value) -> Result<DerivedPath, String> {
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
pub fn combine(dry: &DryRun, built: &[BuildResult]) -> Result<BuildOutcome, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nix::dry_run::Requested;
    use crate::nix::test_paths::*;

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
        let built: Vec<BuildResult> = [("deps", H3), ("image", H1), ("app", H2)]
            .iter()
            .map(|(n, h)| BuildResult {
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
}
