//! The release report: what a run did, what it cost, and how that compares with the budgets the
//! project promises (README "Report"). Pure data and formatting; `release` fills it in.
//!
//! The JSON field names are a stable interface (schema 1): add fields, never rename them.

use serde::Serialize;

use crate::config::NixBuilder;
use crate::oci::Digest;
use crate::platform::Platform;
use crate::registry::{BlobKind, PushedImage, Resolution};

/// The budgets the project promises (README "Report").
pub const DEV_BUILD_BUDGET_SECS: f64 = 25.0 * 60.0;
pub const PRODUCTION_BUILD_BUDGET_SECS: f64 = 55.0 * 60.0;
pub const PUSH_BUDGET_SECS: f64 = 5.0 * 60.0;
pub const MIN_CACHE_HIT_RATE: f64 = 0.80;
/// The release binary should be 20-30% smaller than a default `cargo build --release` one.
pub const BINARY_SHRINK_RANGE: (f64, f64) = (0.20, 0.30);

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub schema: u32,
    pub variant: String,
    pub profile: String,
    /// What built the packages (`builder`): `crane` or `naersk`.
    pub builder: NixBuilder,
    pub image: String,
    pub tags: Vec<String>,
    pub dry_run: bool,
    /// `success` or `failed`.
    pub outcome: String,
    pub error: Option<String>,
    pub steps: Vec<Step>,
    /// Where each platform builds (native, extra-platform, remote builder, cross).
    pub routes: Vec<PlatformRoute>,
    pub build: Option<BuildStats>,
    pub images: Vec<ImageStats>,
    pub binaries: Vec<BinaryStats>,
    pub cache: Option<CacheStats>,
    pub published: Published,
    pub budgets: Vec<Budget>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    pub name: String,
    pub seconds: f64,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlatformRoute {
    pub platform: Platform,
    /// The image installable built for it (native or cross attributes).
    pub installable: String,
    /// `{"kind": "native"|"extra-platform"|"remote"|"cross", "system": ..., "builders": [...]}`.
    pub route: crate::builders::Route,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BuildStats {
    /// Derivations Nix had to build.
    pub built: usize,
    /// Store paths Nix substituted from a binary cache.
    pub fetched: usize,
    /// fetched / (fetched + built); None when nothing was missing locally.
    pub hit_rate: Option<f64>,
}

/// One pushed image as the report shows it (a flat, stable JSON view of
/// [`crate::registry::PushedImage`]).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ImageStats {
    pub platform: Platform,
    pub digest: Digest,
    pub layers_uploaded: usize,
    pub layers_skipped: usize,
    /// Layers found through their records: neither read nor compressed.
    pub layers_recorded: usize,
    /// Layers gzipped in this run.
    pub layers_compressed: usize,
    pub bytes_uploaded: u64,
    pub bytes_skipped: u64,
    /// How each layer got into the repository, in layer order.
    pub layers: Vec<LayerStats>,
}

/// One layer of a pushed image as the report shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LayerStats {
    pub digest: Digest,
    pub resolution: Resolution,
    pub compressed: bool,
}

impl From<&PushedImage> for ImageStats {
    fn from(p: &PushedImage) -> Self {
        Self {
            platform: p.platform,
            digest: p.manifest_digest.clone(),
            layers_uploaded: p.layers_uploaded,
            layers_skipped: p.layers_skipped,
            layers_recorded: p.layers_recorded,
            layers_compressed: p.layers_compressed,
            bytes_uploaded: p.bytes_uploaded,
            bytes_skipped: p.bytes_skipped,
            layers: p
                .blobs
                .iter()
                .filter(|b| b.kind == BlobKind::Layer)
                .map(|b| LayerStats {
                    digest: b.digest.clone(),
                    resolution: b.resolution,
                    compressed: b.compressed,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BinaryStats {
    pub platform: Platform,
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CacheStats {
    pub target: String,
    pub paths_pushed: usize,
    pub bytes_pushed: u64,
    pub paths_present: usize,
    pub paths_upstream: usize,
    pub paths_skipped_images: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Published {
    /// platform -> manifest digest, for every manifest pushed.
    pub manifests: Vec<(Platform, Digest)>,
    pub index: Option<Digest>,
    pub tags: Vec<String>,
    pub cache: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Budget {
    pub name: String,
    /// A human-readable limit, e.g. "< 25 min".
    pub limit: String,
    pub actual: Option<String>,
    /// `met`, `missed` or `unknown` (not measured in this run).
    pub status: String,
}

impl Report {
    pub fn new(plan: &crate::plan::Plan, dry_run: bool) -> Self {
        Self {
            schema: 1,
            variant: plan.variant.clone(),
            profile: plan.profile.clone(),
            builder: plan.builder,
            image: plan.image.clone(),
            tags: plan.tags.clone(),
            dry_run,
            outcome: "failed".into(),
            error: None,
            steps: Vec::new(),
            routes: Vec::new(),
            build: None,
            images: Vec::new(),
            binaries: Vec::new(),
            cache: None,
            published: Published::default(),
            budgets: Vec::new(),
        }
    }

    fn step_secs(&self, names: &[&str]) -> Option<f64> {
        let found: Vec<f64> = self
            .steps
            .iter()
            .filter(|s| names.contains(&s.name.as_str()))
            .map(|s| s.seconds)
            .collect();
        (!found.is_empty()).then(|| found.iter().sum())
    }

    /// Compares the measured figures with the budgets. `baseline_binary_bytes` is the size of a
    /// default-profile release build of the same binary, when known (bench/ measures it).
    pub fn evaluate_budgets(&mut self, baseline_binary_bytes: Option<u64>) {
        let mut budgets = Vec::new();
        let build_limit = if self.profile == "dev" {
            DEV_BUILD_BUDGET_SECS
        } else {
            PRODUCTION_BUILD_BUDGET_SECS
        };
        let kind = if self.profile == "dev" {
            "dev"
        } else {
            "production"
        };
        budgets.push(time_budget(
            &format!("{kind} build"),
            build_limit,
            self.step_secs(&["build"]),
        ));
        budgets.push(time_budget(
            "registry push",
            PUSH_BUDGET_SECS,
            self.step_secs(&["push-images", "push-index"]),
        ));
        let hit = self.build.as_ref().and_then(|b| b.hit_rate);
        budgets.push(Budget {
            name: "cache hit rate".into(),
            limit: format!("> {:.0}%", MIN_CACHE_HIT_RATE * 100.0),
            actual: hit.map(|h| format!("{:.0}%", h * 100.0)),
            status: status(hit.map(|h| h > MIN_CACHE_HIT_RATE)),
        });
        let (lo, hi) = BINARY_SHRINK_RANGE;
        let shrink = match (baseline_binary_bytes, self.binaries.first()) {
            (Some(base), Some(bin)) if base > 0 && self.profile != "dev" => {
                Some(1.0 - bin.bytes as f64 / base as f64)
            }
            _ => None,
        };
        budgets.push(Budget {
            name: "binary vs default release build".into(),
            limit: format!("{:.0}-{:.0}% smaller", lo * 100.0, hi * 100.0),
            actual: shrink.map(|s| format!("{:.0}% smaller", s * 100.0)),
            // Smaller than the range is better than promised, not a miss.
            status: status(shrink.map(|s| s >= lo)),
        });
        self.budgets = budgets;
    }

    /// The Markdown for GITHUB_STEP_SUMMARY.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "### ship release: `{}` ({}){}\n\n",
            self.variant,
            self.outcome,
            if self.dry_run { ", dry run" } else { "" }
        );
        if let Some(e) = &self.error {
            md.push_str(&format!("**Error:** {}\n\n", e.replace('\n', " ")));
        }
        md.push_str(&format!(
            "Image `{}` built with {}, tags: {}\n\n",
            self.image,
            self.builder,
            if self.tags.is_empty() {
                "(none)".to_owned()
            } else {
                self.tags
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
        md.push_str("| step | wall time | ok |\n| --- | ---: | --- |\n");
        for s in &self.steps {
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                s.name,
                duration(s.seconds),
                if s.ok { "yes" } else { "**no**" }
            ));
        }
        if !self.routes.is_empty() {
            md.push_str("\n| platform | builds on | image installable |\n| --- | --- | --- |\n");
            for r in &self.routes {
                md.push_str(&format!(
                    "| {} | {} | `{}` |\n",
                    r.platform, r.route, r.installable
                ));
            }
        }
        self.push_results(&mut md);
        md.push_str("\n| budget | limit | actual | status |\n| --- | --- | --- | --- |\n");
        for b in &self.budgets {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                b.name,
                b.limit,
                b.actual.as_deref().unwrap_or("not measured"),
                b.status
            ));
        }
        md
    }

    /// The build, images, binaries, cache and index sections of [`Report::markdown`].
    fn push_results(&self, md: &mut String) {
        if let Some(b) = &self.build {
            md.push_str(&format!(
                "\nBuild: {} built, {} fetched, cache hit rate {}\n",
                b.built,
                b.fetched,
                b.hit_rate
                    .map(|h| format!("{:.0}%", h * 100.0))
                    .unwrap_or_else(|| "n/a (all outputs already present)".into())
            ));
        }
        if !self.images.is_empty() {
            md.push_str("\n| platform | digest | layers up/skipped | found by record/compressed | bytes uploaded | bytes skipped |\n| --- | --- | ---: | ---: | ---: | ---: |\n");
            for i in &self.images {
                md.push_str(&format!(
                    "| {} | `{}` | {}/{} | {}/{} | {} | {} |\n",
                    i.platform,
                    i.digest,
                    i.layers_uploaded,
                    i.layers_skipped,
                    i.layers_recorded,
                    i.layers_compressed,
                    crate::human::bytes(i.bytes_uploaded),
                    crate::human::bytes(i.bytes_skipped)
                ));
            }
        }
        for b in &self.binaries {
            md.push_str(&format!(
                "\nBinary {} ({}): {}\n",
                b.path,
                b.platform,
                crate::human::bytes(b.bytes)
            ));
        }
        if let Some(c) = &self.cache {
            md.push_str(&format!(
                "\nCache {}: {} paths pushed ({}), {} already present, {} served upstream, {} image paths skipped\n",
                c.target,
                c.paths_pushed,
                crate::human::bytes(c.bytes_pushed),
                c.paths_present,
                c.paths_upstream,
                c.paths_skipped_images
            ));
        }
        if let Some(index) = &self.published.index {
            md.push_str(&format!("\nIndex `{index}`\n"));
        }
    }
}

fn time_budget(name: &str, limit: f64, actual: Option<f64>) -> Budget {
    Budget {
        name: name.into(),
        limit: format!("< {}", duration(limit)),
        actual: actual.map(duration),
        status: status(actual.map(|a| a < limit)),
    }
}

fn status(ok: Option<bool>) -> String {
    match ok {
        Some(true) => "met",
        Some(false) => "missed",
        None => "unknown",
    }
    .into()
}

pub fn duration(secs: f64) -> String {
    if secs >= 60.0 {
        format!(
            "{}m{:02}s",
            (secs / 60.0).floor() as u64,
            (secs % 60.0).round() as u64
        )
    } else {
        format!("{secs:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(profile: &str) -> Report {
        Report {
            schema: 1,
            variant: "production".into(),
            profile: profile.into(),
            builder: NixBuilder::Naersk,
            image: "ghcr.io/o/n".into(),
            tags: vec!["1.2.3".into(), "latest".into()],
            dry_run: false,
            outcome: "success".into(),
            error: None,
            steps: vec![
                Step {
                    name: "build".into(),
                    seconds: 1900.0,
                    ok: true,
                },
                Step {
                    name: "push-images".into(),
                    seconds: 200.0,
                    ok: true,
                },
                Step {
                    name: "push-index".into(),
                    seconds: 120.0,
                    ok: true,
                },
            ],
            routes: vec![PlatformRoute {
                platform: Platform::Arm64,
                installable: ".#packages.aarch64-linux.image-release".into(),
                route: crate::builders::Route::Remote {
                    system: "aarch64-linux".into(),
                    builders: vec!["ssh-ng://arm".into()],
                    fallback: None,
                },
            }],
            build: Some(BuildStats {
                built: 1,
                fetched: 9,
                hit_rate: Some(0.9),
            }),
            images: vec![],
            binaries: vec![BinaryStats {
                platform: Platform::Amd64,
                path: "bin/x".into(),
                bytes: 750,
            }],
            cache: None,
            published: Published::default(),
            budgets: vec![],
        }
    }

    fn statuses(r: &Report) -> Vec<(String, String, Option<String>)> {
        r.budgets
            .iter()
            .map(|b| (b.name.clone(), b.status.clone(), b.actual.clone()))
            .collect()
    }

    #[test]
    fn budgets_met_and_missed() {
        let mut r = report("release");
        r.evaluate_budgets(Some(1000));
        let want: Vec<(String, String, Option<String>)> = vec![
            (
                "production build".into(),
                "met".into(),
                Some("31m40s".into()),
            ),
            // 200 s + 120 s of pushing is over the 5-minute budget.
            (
                "registry push".into(),
                "missed".into(),
                Some("5m20s".into()),
            ),
            ("cache hit rate".into(), "met".into(), Some("90%".into())),
            (
                "binary vs default release build".into(),
                "met".into(),
                Some("25% smaller".into()),
            ),
        ];
        assert_eq!(statuses(&r), want);
        // The same build time misses the dev budget.
        let mut r = report("dev");
        r.build = Some(BuildStats {
            built: 5,
            fetched: 5,
            hit_rate: Some(0.5),
        });
        r.evaluate_budgets(None);
        let s = statuses(&r);
        assert_eq!(
            s[0],
            ("dev build".into(), "missed".into(), Some("31m40s".into()))
        );
        assert_eq!(s[2].1, "missed");
        assert_eq!(
            s[3],
            (
                "binary vs default release build".into(),
                "unknown".into(),
                None
            )
        );
    }

    #[test]
    fn unmeasured_budgets_are_unknown_not_met() {
        let mut r = report("release");
        r.steps.clear();
        r.build = None;
        r.binaries.clear();
        r.evaluate_budgets(Some(1000));
        assert!(r
            .budgets
            .iter()
            .all(|b| b.status == "unknown" && b.actual.is_none()));
    }

    #[test]
    fn markdown_has_every_section() {
        let mut r = report("release");
        r.images.push(ImageStats {
            platform: Platform::Arm64,
            digest: Digest::of(b"abc"),
            layers_uploaded: 1,
            layers_skipped: 4,
            layers_recorded: 3,
            layers_compressed: 2,
            bytes_uploaded: 2048,
            bytes_skipped: 3 << 20,
            layers: vec![],
        });
        r.evaluate_budgets(None);
        let md = r.markdown();
        let image_row = format!(
            "| linux/arm64 | `{}` | 1/4 | 3/2 | 2.0 KiB | 3.0 MiB |",
            Digest::of(b"abc")
        );
        for needle in [
            "### ship release: `production` (success)",
            "`1.2.3`, `latest`",
            "built with naersk",
            "| build | 31m40s | yes |",
            "cache hit rate 90%",
            "| linux/arm64 | remote builder ssh-ng://arm (aarch64-linux) | `.#packages.aarch64-linux.image-release` |",
            &image_row,
            "| registry push | < 5m00s | 5m20s | missed |",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
    }

    #[test]
    fn json_field_names_are_stable() {
        let v = serde_json::to_value(report("release")).unwrap();
        let mut keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        let mut want = [
            "schema",
            "variant",
            "profile",
            "builder",
            "image",
            "tags",
            "dry_run",
            "outcome",
            "error",
            "steps",
            "routes",
            "build",
            "images",
            "binaries",
            "cache",
            "published",
            "budgets",
        ];
        want.sort();
        assert_eq!(keys, want);
    }

    #[test]
    fn units() {
        assert_eq!(duration(59.94), "59.9s");
        assert_eq!(duration(125.0), "2m05s");
    }
}
