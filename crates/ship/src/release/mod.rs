//! `ship release`: plan -> build -> push images by digest -> push the index and tags -> push
//! the binary cache -> report. The orchestration is written against [`Backend`] so the rules
//! that matter (nothing partial is published: the index only after every platform's manifest,
//! tags last, a failure says what was and was not published) are tested with a fake, and the
//! real backend (`release::real`) wires in nix, registry and cache.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::plan::{self, Plan};
use crate::platform::Platform;
pub mod real;

use crate::report::{BinaryStats, BuildStats, CacheStats, ImageStats, Report, Step};

pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

/// What one image push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    pub digest: String,
    pub layers_uploaded: usize,
    pub layers_skipped: usize,
    pub bytes_uploaded: u64,
    pub bytes_skipped: u64,
}

/// What one build did: derivations built, paths fetched, and each installable's output path
/// in the order asked for (Nix's own JSON does not keep that order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub built: usize,
    pub fetched: usize,
    pub outputs: Vec<PathBuf>,
}

/// The side effects a release has, one method per step.
pub trait Backend {
    /// The Nix system of this machine, e.g. `x86_64-linux`.
    fn current_system(&mut self) -> Result<String, BackendError>;
    /// `nix build --dry-run`: how many derivations would be built and paths fetched (used
    /// by `--dry-run`; a real build measures this itself).
    fn dry_run(&mut self, installables: &[String]) -> Result<(usize, usize), BackendError>;
    /// One `nix build` of all installables.
    fn build(&mut self, installables: &[String]) -> Result<Built, BackendError>;
    fn push_image(&mut self, image: &Path, platform: Platform)
        -> Result<PushedImage, BackendError>;
    /// Pushes the index over `children` and points `tags` at it; returns the index digest.
    fn push_index(
        &mut self,
        children: &[(String, Platform)],
        tags: &[String],
    ) -> Result<String, BackendError>;
    /// Pushes the closures of `installables` to the binary cache.
    fn push_cache(&mut self, installables: &[String]) -> Result<CacheStats, BackendError>;
    fn file_size(&mut self, path: &Path) -> Result<u64, BackendError>;
    /// Says what a real run would do at this point (dry run only).
    fn describe(&mut self, line: &str);
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(
        "{platform} is built on {needed} and this machine is {local}; run the release workflow \
         (one runner per platform) or set builders.\"linux/arm64\".cross = true"
    )]
    CannotBuildHere {
        platform: Platform,
        needed: String,
        local: String,
    },
    #[error("{step}: {source}")]
    Step {
        step: &'static str,
        #[source]
        source: BackendError,
    },
    #[error("{step}: nix build returned {got} outputs for {wanted} installables")]
    OutputCount {
        step: &'static str,
        got: usize,
        wanted: usize,
    },
}

/// One platform's flake installables, as this machine builds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub platform: Platform,
    pub image: String,
    pub app: String,
    pub deps: String,
}

/// Where each platform of the plan is built from this machine: natively when the systems
/// match, by the cross attributes when arm64 is wanted on x86_64-linux. Anything else cannot be
/// built here, and is refused before anything is built or published.
pub fn targets(plan: &Plan, flake: &str, local: &str) -> Result<Vec<Target>, ReleaseError> {
    plan.matrix
        .include
        .iter()
        .map(|entry| {
            let platform = entry.platform;
            let (system, [image, app, deps]) = if entry.system == local {
                (
                    entry.system.clone(),
                    [entry.attr.clone(), entry.app.clone(), entry.deps.clone()],
                )
            } else if platform == Platform::Arm64
                && local == plan::CROSS_BUILD_PLATFORM.native_system()
            {
                plan::attrs(&plan.profile, platform, true)
            } else {
                return Err(ReleaseError::CannotBuildHere {
                    platform,
                    needed: entry.system.clone(),
                    local: local.to_owned(),
                });
            };
            let full = |attr: &str| format!("{flake}#packages.{system}.{attr}");
            Ok(Target {
                platform,
                image: full(&image),
                app: full(&app),
                deps: full(&deps),
            })
        })
        .collect()
}

pub struct Options {
    pub flake: String,
    pub dry_run: bool,
    pub baseline_binary_bytes: Option<u64>,
}

/// Runs the release. Always returns the report (with `outcome` and what was published); the
/// error, if any, is also in `report.error`.
pub fn run(
    plan: &Plan,
    opts: &Options,
    backend: &mut dyn Backend,
) -> (Report, Result<(), ReleaseError>) {
    let mut report = Report::new(plan, opts.dry_run);
    let result = run_steps(plan, opts, backend, &mut report);
    match &result {
        Ok(()) => report.outcome = "success".into(),
        Err(e) => {
            report.outcome = "failed".into();
            report.error = Some(e.to_string());
        }
    }
    report.evaluate_budgets(opts.baseline_binary_bytes);
    (report, result)
}

fn timed<T>(
    report: &mut Report,
    name: &'static str,
    f: impl FnOnce() -> Result<T, BackendError>,
) -> Result<T, ReleaseError> {
    let start = Instant::now();
    let result = f();
    report.steps.push(Step {
        name: name.into(),
        seconds: start.elapsed().as_secs_f64(),
        ok: result.is_ok(),
    });
    result.map_err(|source| ReleaseError::Step { step: name, source })
}

fn run_steps(
    plan: &Plan,
    opts: &Options,
    backend: &mut dyn Backend,
    report: &mut Report,
) -> Result<(), ReleaseError> {
    let local = timed(report, "detect-system", || backend.current_system())?;
    let targets = targets(plan, &opts.flake, &local)?;
    let mut installables = Vec::new();
    for t in &targets {
        installables.extend([t.image.clone(), t.app.clone(), t.deps.clone()]);
    }

    let record = |report: &mut Report, built: usize, fetched: usize| {
        report.build = Some(BuildStats {
            built,
            fetched,
            hit_rate: crate::nix::hit_rate(built, fetched),
        });
    };

    if opts.dry_run {
        // Nix's dry run is read-only, so --dry-run still reports the cache hit rate.
        let (built, fetched) = timed(report, "dry-run", || backend.dry_run(&installables))?;
        record(report, built, fetched);
        backend.describe(&format!(
            "nix build --json --no-link {}",
            installables.join(" ")
        ));
        for t in &targets {
            backend.describe(&format!(
                "push-image {} --to {} --platform {}: HEAD each blob, upload missing ones, PUT manifest by digest",
                t.image, plan.image, t.platform
            ));
        }
        backend.describe(&format!(
            "push-index --to {}: check each child, PUT index by digest, then tags {}",
            plan.image,
            plan.tags.join(", ")
        ));
        backend.describe(&format!(
            "push-cache {}: {}",
            plan.cache
                .as_deref()
                .unwrap_or("(no cache configured: skipped)"),
            cache_installables(&targets).join(" ")
        ));
        return Ok(());
    }

    let build = timed(report, "build", || backend.build(&installables))?;
    record(report, build.built, build.fetched);
    let outputs = build.outputs;
    if outputs.len() != installables.len() {
        return Err(ReleaseError::OutputCount {
            step: "build",
            got: outputs.len(),
            wanted: installables.len(),
        });
    }
    for (t, chunk) in targets.iter().zip(outputs.chunks(3)) {
        let bin = chunk[1].join("bin").join(&plan.binary);
        if let Ok(bytes) = backend.file_size(&bin) {
            report.binaries.push(BinaryStats {
                platform: t.platform.to_string(),
                path: bin.display().to_string(),
                bytes,
            });
        }
    }

    let mut pushed: Vec<(Platform, PushedImage)> = Vec::new();
    let pushing = timed(report, "push-images", || {
        for (t, chunk) in targets.iter().zip(outputs.chunks(3)) {
            let image = backend
                .push_image(&chunk[0], t.platform)
                .map_err(|e| format!("{}: {e}", t.platform))?;
            pushed.push((t.platform, image));
        }
        Ok(())
    });
    // Recorded before the error propagates: a failed release must say what did get out.
    let mut children = Vec::new();
    for (platform, p) in pushed {
        children.push((p.digest.clone(), platform));
        report
            .published
            .manifests
            .push((platform.to_string(), p.digest.clone()));
        report.images.push(ImageStats {
            platform: platform.to_string(),
            digest: p.digest,
            layers_uploaded: p.layers_uploaded,
            layers_skipped: p.layers_skipped,
            bytes_uploaded: p.bytes_uploaded,
            bytes_skipped: p.bytes_skipped,
        });
    }
    pushing?;

    let index = timed(report, "push-index", || {
        backend.push_index(&children, &plan.tags)
    })?;
    report.published.index = Some(index);
    report.published.tags = plan.tags.clone();

    if plan.cache.is_some() {
        let cached = cache_installables(&targets);
        let stats = timed(report, "push-cache", || backend.push_cache(&cached))?;
        report.cache = Some(stats);
        report.published.cache = true;
    }
    Ok(())
}

/// What goes to the binary cache: each app and, explicitly, its dependency-only derivation
/// (crane's deps output is a build input, not in the app's runtime closure).
fn cache_installables(targets: &[Target]) -> Vec<String> {
    targets
        .iter()
        .flat_map(|t| [t.app.clone(), t.deps.clone()])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    fn plan_for(git_ref: &str, extra: &str) -> Plan {
        let c = config::parse(
            Path::new("Cargo.toml"),
            &config::test_manifest(&format!(
                "image = \"reg.test/o/svc\"\ncache = \"file:///tmp/c\"\n{extra}"
            )),
        )
        .unwrap();
        plan::plan(
            &c,
            &plan::Context {
                variant: None,
                git_ref: git_ref.into(),
                event: "push".into(),
                sha: "0123456789abcdef0123456789abcdef01234567".into(),
            },
        )
        .unwrap()
    }

    /// Records every call; fails the step named in `fail`.
    #[derive(Default)]
    struct Fake {
        system: String,
        calls: Vec<String>,
        fail: Option<(&'static str, Platform)>,
    }

    impl Backend for Fake {
        fn current_system(&mut self) -> Result<String, BackendError> {
            Ok(self.system.clone())
        }
        fn dry_run(&mut self, i: &[String]) -> Result<(usize, usize), BackendError> {
            self.calls.push(format!("dry-run {}", i.len()));
            Ok((1, 3))
        }
        fn build(&mut self, i: &[String]) -> Result<Built, BackendError> {
            self.calls.push(format!("build {}", i.join(" ")));
            let outputs = i
                .iter()
                .map(|x| {
                    PathBuf::from(format!("/nix/store/{}", x.rsplit('.').next().unwrap_or("")))
                })
                .collect();
            Ok(Built {
                built: 1,
                fetched: 3,
                outputs,
            })
        }
        fn push_image(&mut self, image: &Path, p: Platform) -> Result<PushedImage, BackendError> {
            if self.fail == Some(("push_image", p)) {
                return Err("connection reset by peer".into());
            }
            self.calls
                .push(format!("push-image {} {p}", image.display()));
            Ok(PushedImage {
                digest: format!("sha256:{}", p.arch()),
                layers_uploaded: 1,
                layers_skipped: 2,
                bytes_uploaded: 10,
                bytes_skipped: 20,
            })
        }
        fn push_index(
            &mut self,
            c: &[(String, Platform)],
            tags: &[String],
        ) -> Result<String, BackendError> {
            let kids: Vec<_> = c.iter().map(|(d, p)| format!("{d}@{p}")).collect();
            self.calls.push(format!(
                "push-index {} tags {}",
                kids.join(","),
                tags.join(",")
            ));
            Ok("sha256:index".into())
        }
        fn push_cache(&mut self, i: &[String]) -> Result<CacheStats, BackendError> {
            self.calls.push(format!("push-cache {}", i.join(" ")));
            Ok(CacheStats {
                target: "file:///tmp/c".into(),
                paths_pushed: 2,
                bytes_pushed: 5,
                paths_present: 0,
                paths_upstream: 7,
                paths_skipped_images: 1,
            })
        }
        fn file_size(&mut self, _: &Path) -> Result<u64, BackendError> {
            Ok(1234)
        }
        fn describe(&mut self, line: &str) {
            self.calls.push(format!("would {line}"));
        }
    }

    fn opts(dry_run: bool) -> Options {
        Options {
            flake: ".".into(),
            dry_run,
            baseline_binary_bytes: None,
        }
    }

    #[test]
    fn production_release_publishes_in_order() {
        let plan = plan_for(
            "refs/tags/v1.2.3",
            "[builders.\"linux/arm64\"]\ncross = true\n",
        );
        let mut fake = Fake {
            system: "x86_64-linux".into(),
            ..Fake::default()
        };
        let (report, result) = run(&plan, &opts(false), &mut fake);
        result.unwrap();
        assert_eq!(
            fake.calls,
            [
                "build .#packages.x86_64-linux.image-release .#packages.x86_64-linux.app-release .#packages.x86_64-linux.deps-release .#packages.x86_64-linux.image-release-arm64 .#packages.x86_64-linux.app-release-arm64 .#packages.x86_64-linux.deps-release-arm64",
                "push-image /nix/store/image-release linux/amd64",
                "push-image /nix/store/image-release-arm64 linux/arm64",
                "push-index sha256:amd64@linux/amd64,sha256:arm64@linux/arm64 tags 1.2.3,1.2,1,latest,sha-0123456",
                "push-cache .#packages.x86_64-linux.app-release .#packages.x86_64-linux.deps-release .#packages.x86_64-linux.app-release-arm64 .#packages.x86_64-linux.deps-release-arm64",
            ]
        );
        assert_eq!(report.outcome, "success");
        assert_eq!(report.build.as_ref().unwrap().hit_rate, Some(0.75));
        assert_eq!(report.published.index.as_deref(), Some("sha256:index"));
        assert_eq!(report.binaries.len(), 2);
        assert_eq!(report.binaries[0].path, "/nix/store/app-release/bin/svc");
        let steps: Vec<_> = report.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            steps,
            [
                "detect-system",
                "build",
                "push-images",
                "push-index",
                "push-cache"
            ]
        );
    }

    #[test]
    fn arm64_on_x86_64_uses_the_cross_attributes_even_when_ci_builds_natively() {
        let plan = plan_for("refs/tags/v1.2.3", "");
        let t = targets(&plan, "github:o/n", "x86_64-linux").unwrap();
        assert_eq!(t[0].image, "github:o/n#packages.x86_64-linux.image-release");
        assert_eq!(
            t[1].image,
            "github:o/n#packages.x86_64-linux.image-release-arm64"
        );
        assert_eq!(
            t[1].deps,
            "github:o/n#packages.x86_64-linux.deps-release-arm64"
        );
        let t = targets(&plan_for("refs/heads/main", ""), ".", "aarch64-linux");
        assert!(
            matches!(
                &t,
                Err(ReleaseError::CannotBuildHere {
                    platform: Platform::Amd64,
                    ..
                })
            ),
            "{t:?}"
        );
        let e = targets(&plan, ".", "aarch64-linux")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux/amd64 is built on x86_64-linux and this machine is aarch64-linux"),
            "{e}"
        );
    }

    #[test]
    fn a_failed_image_push_publishes_no_index_no_tags_no_cache() {
        let plan = plan_for(
            "refs/tags/v1.2.3",
            "[builders.\"linux/arm64\"]\ncross = true\n",
        );
        let mut fake = Fake {
            system: "x86_64-linux".into(),
            fail: Some(("push_image", Platform::Arm64)),
            ..Fake::default()
        };
        let (report, result) = run(&plan, &opts(false), &mut fake);
        let err = result.unwrap_err().to_string();
        assert_eq!(err, "push-images: linux/arm64: connection reset by peer");
        assert!(
            fake.calls
                .iter()
                .all(|c| !c.starts_with("push-index") && !c.starts_with("push-cache")),
            "{:?}",
            fake.calls
        );
        assert_eq!(report.outcome, "failed");
        assert_eq!(report.error.as_deref(), Some(err.as_str()));
        // What did get out is said: the amd64 manifest (by digest, untagged), nothing else.
        assert_eq!(
            report.published.manifests,
            [("linux/amd64".to_owned(), "sha256:amd64".to_owned())]
        );
        assert_eq!(report.published.index, None);
        assert!(report.published.tags.is_empty());
        assert!(!report.published.cache);
        assert!(!report.steps.last().unwrap().ok);
    }

    #[test]
    fn dry_run_describes_and_changes_nothing() {
        let plan = plan_for("refs/tags/dev-3", "");
        let mut fake = Fake {
            system: "x86_64-linux".into(),
            ..Fake::default()
        };
        let (report, result) = run(&plan, &opts(true), &mut fake);
        result.unwrap();
        assert_eq!(fake.calls[0], "dry-run 3");
        assert!(
            fake.calls[1..].iter().all(|c| c.starts_with("would ")),
            "{:?}",
            fake.calls
        );
        assert!(fake
            .calls
            .iter()
            .any(|c| c.contains("then tags dev-3, sha-0123456")));
        assert!(report.dry_run);
        assert_eq!(report.published, crate::report::Published::default());
    }
}
