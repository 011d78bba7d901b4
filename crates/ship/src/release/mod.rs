//! `ship release`: plan -> build -> push images by digest -> push the index and tags -> push
//! the binary cache -> report. The orchestration is written against [`Backend`] so the rules
//! that matter (nothing partial is published: the index only after every platform's manifest,
//! tags last, a failure says what was and was not published) are tested with a fake, and the
//! real backend (`release::real`) wires in nix, registry and cache.

pub mod real;
mod targets;

pub use targets::{all_installables, cache_installables, targets, PlatformBuild};

use targets::check_builders;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::builders::{self, Arm64Mode, Capabilities, Route};
use crate::oci::Digest;
use crate::plan::{Outputs, Plan};
use crate::platform::Platform;
use crate::registry::PushedImage;
use crate::report::{BinaryStats, BuildStats, CacheStats, ImageStats, PlatformRoute, Report, Step};

pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

/// How much a build had to do: derivations built, store paths fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildCounts {
    pub built: usize,
    pub fetched: usize,
}

/// What the one build of every platform did, and each platform's store paths, in the order of
/// the [`PlatformBuild`]s asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformOutputs {
    pub counts: BuildCounts,
    pub outputs: Vec<Outputs<PathBuf>>,
}

/// The side effects a release has, one method per step.
pub trait Backend {
    /// What this Nix can build: its system, extra-platforms and remote builders.
    fn capabilities(&mut self) -> Result<Capabilities, BackendError>;
    /// Connects to a remote builder (its store URL, secrets included) as a build would.
    fn check_builder(&mut self, store_url: &str) -> Result<(), BackendError>;
    /// `nix build --dry-run`: what would be built and fetched (used by `--dry-run`; a real
    /// build measures this itself).
    fn dry_run(&mut self, installables: &[String]) -> Result<BuildCounts, BackendError>;
    /// One `nix build` of every platform's installables.
    fn build(&mut self, builds: &[PlatformBuild]) -> Result<PlatformOutputs, BackendError>;
    fn push_image(&mut self, image: &Path, platform: Platform)
        -> Result<PushedImage, BackendError>;
    /// Pushes the index over `children` and points `tags` at it; returns the index digest.
    fn push_index(
        &mut self,
        children: &[(Digest, Platform)],
        tags: &[String],
    ) -> Result<Digest, BackendError>;
    /// Pushes the closures of `installables` to the binary cache.
    fn push_cache(&mut self, installables: &[String]) -> Result<CacheStats, BackendError>;
    fn file_size(&mut self, path: &Path) -> Result<u64, BackendError>;
    /// Says what a real run would do at this point (dry run only).
    fn describe(&mut self, line: &str);
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Unbuildable(#[from] builders::Unbuildable),
    #[error(
        "{platform} builds on {system} remote builders and none answers: {failures}; start or \
         fix one (Nix's `builders`), or build elsewhere ({elsewhere})"
    )]
    BuildersDown {
        platform: Platform,
        system: String,
        failures: String,
        /// The other ways to build the platform.
        elsewhere: &'static str,
    },
    #[error("{step}: {source}")]
    Step {
        step: &'static str,
        #[source]
        source: BackendError,
    },
    #[error("{step}: nix build returned {got} outputs for {wanted} platforms")]
    OutputCount {
        step: &'static str,
        got: usize,
        wanted: usize,
    },
}

pub struct Options {
    pub flake: String,
    pub dry_run: bool,
    pub baseline_binary_bytes: Option<u64>,
    /// How arm64 is built when Nix could do it natively or by cross-compilation.
    pub arm64: Arm64Mode,
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

fn record_build(report: &mut Report, counts: BuildCounts) {
    report.build = Some(BuildStats {
        built: counts.built,
        fetched: counts.fetched,
        hit_rate: crate::nix::hit_rate(counts.built, counts.fetched),
    });
}

fn run_steps(
    plan: &Plan,
    opts: &Options,
    backend: &mut dyn Backend,
    report: &mut Report,
) -> Result<(), ReleaseError> {
    let builds = where_to_build(plan, opts, backend, report)?;
    if opts.dry_run {
        return describe_release(plan, &builds, backend, report);
    }
    let outputs = build(plan, &builds, backend, report)?;
    let children = push_images(&builds, &outputs, backend, report)?;
    let index = timed(report, "push-index", || {
        backend.push_index(&children, &plan.tags)
    })?;
    report.published.index = Some(index);
    report.published.tags = plan.tags.clone();
    if plan.cache.is_some() {
        let cached = cache_installables(&builds);
        let stats = timed(report, "push-cache", || backend.push_cache(&cached))?;
        report.cache = Some(stats);
        report.published.cache = true;
    }
    Ok(())
}

/// Where each platform builds, decided and checked up front: every remote builder a platform
/// relies on must answer (or the platform falls back to this machine) before anything builds.
fn where_to_build(
    plan: &Plan,
    opts: &Options,
    backend: &mut dyn Backend,
    report: &mut Report,
) -> Result<Vec<PlatformBuild>, ReleaseError> {
    let caps = timed(report, "detect-builders", || backend.capabilities())?;
    let mut builds = targets(plan, &opts.flake, &caps, opts.arm64)?;
    report.routes = routes(&builds);
    if builds
        .iter()
        .any(|b| matches!(b.route, Route::Remote { .. }))
    {
        timed(report, "check-builders", || {
            check_builders(&mut builds, &caps, backend)
        })?;
        report.routes = routes(&builds);
    }
    Ok(builds)
}

fn routes(builds: &[PlatformBuild]) -> Vec<PlatformRoute> {
    builds
        .iter()
        .map(|b| PlatformRoute {
            platform: b.platform,
            installable: b.installables.image.clone(),
            route: b.route.clone(),
        })
        .collect()
}

/// `--dry-run`: Nix's own dry run (read-only, so the cache hit rate is still measured), then
/// every step a real run would take, said and not done.
fn describe_release(
    plan: &Plan,
    builds: &[PlatformBuild],
    backend: &mut dyn Backend,
    report: &mut Report,
) -> Result<(), ReleaseError> {
    let installables = all_installables(builds);
    let counts = timed(report, "dry-run", || backend.dry_run(&installables))?;
    record_build(report, counts);
    for b in builds {
        backend.describe(&format!("build {}: {}", b.platform, b.route));
    }
    backend.describe(&format!(
        "nix build --json --no-link {}",
        installables.join(" ")
    ));
    for b in builds {
        backend.describe(&format!(
            "push-image {} --to {} --platform {}: HEAD each blob, upload missing ones, PUT manifest by digest",
            b.installables.image, plan.image, b.platform
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
        cache_installables(builds).join(" ")
    ));
    Ok(())
}

/// The one build; records the hit rate and each platform's binary size.
fn build(
    plan: &Plan,
    builds: &[PlatformBuild],
    backend: &mut dyn Backend,
    report: &mut Report,
) -> Result<Vec<Outputs<PathBuf>>, ReleaseError> {
    let built = timed(report, "build", || backend.build(builds))?;
    record_build(report, built.counts);
    if built.outputs.len() != builds.len() {
        return Err(ReleaseError::OutputCount {
            step: "build",
            got: built.outputs.len(),
            wanted: builds.len(),
        });
    }
    for (b, out) in builds.iter().zip(&built.outputs) {
        let bin = out.app.join("bin").join(&plan.binary);
        if let Ok(bytes) = backend.file_size(&bin) {
            report.binaries.push(BinaryStats {
                platform: b.platform,
                path: bin.display().to_string(),
                bytes,
            });
        }
    }
    Ok(built.outputs)
}

/// Every platform's image, by digest; what got out is recorded even when a later one fails.
fn push_images(
    builds: &[PlatformBuild],
    outputs: &[Outputs<PathBuf>],
    backend: &mut dyn Backend,
    report: &mut Report,
) -> Result<Vec<(Digest, Platform)>, ReleaseError> {
    let mut pushed: Vec<PushedImage> = Vec::new();
    let pushing = timed(report, "push-images", || {
        for (b, out) in builds.iter().zip(outputs) {
            let image = backend
                .push_image(&out.image, b.platform)
                .map_err(|e| format!("{}: {e}", b.platform))?;
            pushed.push(image);
        }
        Ok(())
    });
    // Recorded before the error propagates: a failed release must say what did get out.
    let mut children = Vec::new();
    for image in &pushed {
        children.push((image.manifest_digest.clone(), image.platform));
        report
            .published
            .manifests
            .push((image.platform, image.manifest_digest.clone()));
        report.images.push(ImageStats::from(image));
    }
    pushing?;
    Ok(children)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config;
    use crate::plan;

    pub(crate) fn plan_for(git_ref: &str, extra: &str) -> Plan {
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
        /// Nix's `builders` value.
        builders: String,
        extra_platforms: Vec<String>,
        /// Builder store URLs that do not answer.
        down: Vec<String>,
        calls: Vec<String>,
        fail: Option<(&'static str, Platform)>,
    }

    /// The digest the fake gives each platform's manifest.
    fn manifest_digest(p: Platform) -> Digest {
        Digest::of(p.arch().as_bytes())
    }

    fn pushed_image(p: Platform) -> PushedImage {
        PushedImage {
            repository: "reg.test/o/svc".into(),
            manifest_digest: manifest_digest(p),
            manifest_size: 500,
            media_type: crate::oci::MEDIA_TYPE_IMAGE_MANIFEST.into(),
            platform: p,
            variant: None,
            config_digest: Digest::of(b"config"),
            layers: 3,
            layers_uploaded: 1,
            layers_skipped: 2,
            layers_recorded: 2,
            layers_compressed: 1,
            records_written: 1,
            records_failed: 0,
            bytes_uploaded: 10,
            bytes_skipped: 20,
            uncompressed_bytes: 40,
            blobs: Vec::new(),
            retries: 0,
        }
    }

    impl Backend for Fake {
        fn capabilities(&mut self) -> Result<Capabilities, BackendError> {
            let mut caps = Capabilities::local(&self.system);
            caps.extra_platforms = self.extra_platforms.clone();
            caps.machines =
                builders::parse_machines(&self.builders, &self.system, &mut |_| Ok(None))?;
            Ok(caps)
        }
        fn check_builder(&mut self, url: &str) -> Result<(), BackendError> {
            self.calls.push(format!("check-builder {url}"));
            if self.down.iter().any(|d| d == url) {
                return Err("ssh: connect to host arm port 22: Connection refused".into());
            }
            Ok(())
        }
        fn dry_run(&mut self, i: &[String]) -> Result<BuildCounts, BackendError> {
            self.calls.push(format!("dry-run {}", i.len()));
            Ok(BuildCounts {
                built: 1,
                fetched: 3,
            })
        }
        fn build(&mut self, builds: &[PlatformBuild]) -> Result<PlatformOutputs, BackendError> {
            self.calls
                .push(format!("build {}", all_installables(builds).join(" ")));
            let store = |x: String| {
                PathBuf::from(format!("/nix/store/{}", x.rsplit('.').next().unwrap_or("")))
            };
            Ok(PlatformOutputs {
                counts: BuildCounts {
                    built: 1,
                    fetched: 3,
                },
                outputs: builds
                    .iter()
                    .map(|b| b.installables.clone().map(store))
                    .collect(),
            })
        }
        fn push_image(&mut self, image: &Path, p: Platform) -> Result<PushedImage, BackendError> {
            if self.fail == Some(("push_image", p)) {
                return Err("connection reset by peer".into());
            }
            self.calls
                .push(format!("push-image {} {p}", image.display()));
            Ok(pushed_image(p))
        }
        fn push_index(
            &mut self,
            c: &[(Digest, Platform)],
            tags: &[String],
        ) -> Result<Digest, BackendError> {
            let kids: Vec<_> = c.iter().map(|(d, p)| format!("{d}@{p}")).collect();
            self.calls.push(format!(
                "push-index {} tags {}",
                kids.join(","),
                tags.join(",")
            ));
            Ok(Digest::of(b"index"))
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
            arm64: Arm64Mode::Auto,
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
                &format!(
                    "push-index {}@linux/amd64,{}@linux/arm64 tags 1.2.3,1.2,1,latest,sha-0123456",
                    manifest_digest(Platform::Amd64),
                    manifest_digest(Platform::Arm64)
                ),
                "push-cache .#packages.x86_64-linux.app-release .#packages.x86_64-linux.deps-release .#packages.x86_64-linux.app-release-arm64 .#packages.x86_64-linux.deps-release-arm64",
            ]
        );
        assert_eq!(report.outcome, "success");
        assert_eq!(report.build.as_ref().unwrap().hit_rate, Some(0.75));
        assert_eq!(report.published.index, Some(Digest::of(b"index")));
        assert_eq!(report.binaries.len(), 2);
        assert_eq!(report.binaries[0].path, "/nix/store/app-release/bin/svc");
        let steps: Vec<_> = report.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            steps,
            [
                "detect-builders",
                "build",
                "push-images",
                "push-index",
                "push-cache"
            ]
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
            [(Platform::Amd64, manifest_digest(Platform::Amd64))]
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

    #[test]
    fn an_arm64_builder_builds_the_native_derivations_after_answering() {
        let plan = plan_for("refs/tags/v1.2.3", "");
        let mut fake = Fake {
            system: "x86_64-linux".into(),
            builders: "ssh://x86 x86_64-linux; ssh-ng://u:pw@arm aarch64-linux /k/id".into(),
            // Down: amd64 builds here, as Nix does when no builder for it answers.
            down: vec!["ssh://x86".into()],
            ..Fake::default()
        };
        let (report, result) = run(&plan, &opts(false), &mut fake);
        result.unwrap();
        assert_eq!(
            fake.calls[..3],
            [
                "check-builder ssh://x86",
                "check-builder ssh-ng://u:pw@arm?ssh-key=/k/id",
                "build .#packages.x86_64-linux.image-release .#packages.x86_64-linux.app-release .#packages.x86_64-linux.deps-release .#packages.aarch64-linux.image-release .#packages.aarch64-linux.app-release .#packages.aarch64-linux.deps-release",
            ]
        );
        let routes: Vec<_> = report.routes.iter().map(|r| r.route.to_string()).collect();
        assert_eq!(
            routes,
            [
                "native (x86_64-linux, this machine)",
                "remote builder ssh-ng://u:***@arm (aarch64-linux)"
            ]
        );
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains("pw@"), "{json}");
        assert!(
            json.contains(r#""route":{"kind":"remote","system":"aarch64-linux","builders":["ssh-ng://u:***@arm"],"fallback":null}"#),
            "{json}"
        );
        // --arm64 cross overrides: no builder is contacted.
        let mut fake = Fake {
            system: "x86_64-linux".into(),
            builders: "ssh-ng://arm aarch64-linux".into(),
            ..Fake::default()
        };
        let cross = Options {
            arm64: Arm64Mode::Cross,
            ..opts(false)
        };
        run(&plan, &cross, &mut fake).1.unwrap();
        assert!(
            fake.calls[0].contains("packages.x86_64-linux.image-release-arm64"),
            "{:?}",
            fake.calls
        );
    }

    #[test]
    fn a_builder_that_is_down_stops_the_release_before_any_build() {
        let plan = plan_for("refs/tags/v1.2.3", "");
        let mut fake = Fake {
            system: "x86_64-linux".into(),
            builders: "ssh-ng://arm aarch64-linux".into(),
            down: vec!["ssh-ng://arm".into()],
            ..Fake::default()
        };
        let (report, result) = run(&plan, &opts(false), &mut fake);
        let e = result.unwrap_err().to_string();
        assert_eq!(
            e,
            "check-builders: linux/arm64 builds on aarch64-linux remote builders and none \
             answers: ssh-ng://arm: ssh: connect to host arm port 22: Connection refused; start \
             or fix one (Nix's `builders`), or build elsewhere (`--arm64 cross` on x86_64-linux, the \
             release workflow)"
        );
        assert_eq!(fake.calls, ["check-builder ssh-ng://arm"]);
        assert_eq!(report.published, crate::report::Published::default());
        // A second machine that answers is enough.
        let mut fake = Fake {
            system: "x86_64-linux".into(),
            builders: "ssh-ng://arm aarch64-linux; ssh://arm2 aarch64-linux".into(),
            down: vec!["ssh-ng://arm".into()],
            ..Fake::default()
        };
        run(&plan, &opts(true), &mut fake).1.unwrap();
        assert!(
            fake.calls.iter().any(|c| c == "check-builder ssh://arm2"),
            "{:?}",
            fake.calls
        );
    }

    #[test]
    fn dry_run_says_where_each_platform_builds() {
        let plan = plan_for("refs/tags/v1.2.3", "");
        let mut fake = Fake {
            system: "x86_64-linux".into(),
            extra_platforms: vec!["aarch64-linux".into()],
            ..Fake::default()
        };
        let (report, result) = run(&plan, &opts(true), &mut fake);
        result.unwrap();
        assert!(
            fake.calls.contains(
                &"would build linux/arm64: extra-platform (aarch64-linux on this machine)"
                    .to_owned()
            ),
            "{:?}",
            fake.calls
        );
        assert!(report.markdown().contains(
            "| linux/arm64 | extra-platform (aarch64-linux on this machine) | `.#packages.aarch64-linux.image-release` |"
        ));
    }
}
