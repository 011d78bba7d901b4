//! `ship release`: plan -> build -> push images by digest -> push the index and tags -> push
//! the binary cache -> report. The orchestration is written against [`Backend`] so the rules
//! that matter (nothing partial is published: the index only after every platform's manifest,
//! tags last, a failure says what was and was not published) are tested with a fake, and the
//! real backend (`release::real`) wires in nix, registry and cache.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::builders::{self, Arm64Mode, Capabilities, Route};
use crate::config::Platform;
use crate::plan::{self, Plan};
pub mod real;

use crate::report::{BinaryStats, BuildStats, CacheStats, ImageStats, PlatformRoute, Report, Step};

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
    /// What this Nix can build: its system, extra-platforms and remote builders.
    fn capabilities(&mut self) -> Result<Capabilities, BackendError>;
    /// Connects to a remote builder (its store URL, secrets included) as a build would.
    fn check_builder(&mut self, store_url: &str) -> Result<(), BackendError>;
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
    #[error("matrix platform {0:?} is none of {platforms}", platforms = crate::config::PLATFORMS.join(", "))]
    UnknownPlatform(String),
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
    #[error("{step}: nix build returned {got} outputs for {wanted} installables")]
    OutputCount {
        step: &'static str,
        got: usize,
        wanted: usize,
    },
}

/// One platform's flake installables, as this machine builds them, and where they build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub platform: Platform,
    pub image: String,
    pub app: String,
    pub deps: String,
    pub route: Route,
}

/// Where each platform of the plan is built (see [`builders::route`]): the native derivations
/// wherever Nix can build them (this machine, an extra platform, a remote builder), the cross
/// attributes for arm64 on x86_64-linux otherwise or when asked. A platform nothing can build
/// is refused before anything is built or published.
pub fn targets(
    plan: &Plan,
    flake: &str,
    caps: &Capabilities,
    arm64: Arm64Mode,
) -> Result<Vec<Target>, ReleaseError> {
    plan.matrix
        .include
        .iter()
        .map(|entry| {
            let platform = Platform::parse(&entry.platform)
                .ok_or_else(|| ReleaseError::UnknownPlatform(entry.platform.clone()))?;
            let native_system = platform.native_system();
            let route = builders::route(platform, native_system, caps, arm64, entry.cross)?;
            let (system, [image, app, deps]) =
                plan::attrs(&plan.profile, platform, route.is_cross());
            let full = |attr: &str| format!("{flake}#packages.{system}.{attr}");
            Ok(Target {
                platform,
                image: full(&image),
                app: full(&app),
                deps: full(&deps),
                route,
            })
        })
        .collect()
}

/// Every remote builder a target relies on must answer before anything is built: Nix would
/// otherwise only find out mid-build. A platform needs one of its candidate machines, or else
/// builds on this machine when it can (as Nix itself then does).
fn check_builders(
    targets: &mut [Target],
    caps: &Capabilities,
    backend: &mut dyn Backend,
) -> Result<(), BackendError> {
    for t in targets {
        let Route::Remote { system, .. } = &t.route else {
            continue;
        };
        let mut failures = Vec::new();
        let mut answered = false;
        for m in caps.machines.iter().filter(|m| m.builds(system)) {
            match backend.check_builder(&m.store_url()) {
                Ok(()) => {
                    answered = true;
                    break;
                }
                Err(e) => failures.push(format!("{}: {e}", m.display_uri())),
            }
        }
        if !answered {
            if let Some(local) = t.route.local_fallback() {
                t.route = local.clone();
                continue;
            }
            return Err(Box::new(ReleaseError::BuildersDown {
                platform: t.platform,
                system: system.clone(),
                failures: failures.join("; "),
                elsewhere: if t.platform == Platform::Arm64 {
                    "`--arm64 cross` on x86_64-linux, the release workflow"
                } else {
                    "the release workflow"
                },
            }));
        }
    }
    Ok(())
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

fn run_steps(
    plan: &Plan,
    opts: &Options,
    backend: &mut dyn Backend,
    report: &mut Report,
) -> Result<(), ReleaseError> {
    // Remote builders (issue 13): where each platform builds, decided and checked up front.
    let caps = timed(report, "detect-builders", || backend.capabilities())?;
    let mut targets = targets(plan, &opts.flake, &caps, opts.arm64)?;
    let routes = |targets: &[Target]| {
        targets
            .iter()
            .map(|t| PlatformRoute {
                platform: t.platform.to_string(),
                installable: t.image.clone(),
                route: t.route.clone(),
            })
            .collect()
    };
    report.routes = routes(&targets);
    if targets
        .iter()
        .any(|t| matches!(t.route, Route::Remote { .. }))
    {
        timed(report, "check-builders", || {
            check_builders(&mut targets, &caps, backend)
        })?;
        report.routes = routes(&targets);
    }
    let mut installables = Vec::new();
    for t in &targets {
        installables.extend([t.image.clone(), t.app.clone(), t.deps.clone()]);
    }

    let record = |report: &mut Report, built: usize, fetched: usize| {
        let total = built + fetched;
        report.build = Some(BuildStats {
            built,
            fetched,
            hit_rate: (total > 0).then(|| fetched as f64 / total as f64),
        });
    };

    if opts.dry_run {
        // Nix's dry run is read-only, so --dry-run still reports the cache hit rate.
        let (built, fetched) = timed(report, "dry-run", || backend.dry_run(&installables))?;
        record(report, built, fetched);
        for t in &targets {
            backend.describe(&format!("build {}: {}", t.platform, t.route));
        }
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
        /// Nix's `builders` value.
        builders: String,
        extra_platforms: Vec<String>,
        /// Builder store URLs that do not answer.
        down: Vec<String>,
        calls: Vec<String>,
        fail: Option<(&'static str, Platform)>,
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
                "detect-builders",
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
        let local = |system: &str| Capabilities::local(system);
        let t = targets(&plan, "github:o/n", &local("x86_64-linux"), Arm64Mode::Auto).unwrap();
        assert_eq!(t[0].image, "github:o/n#packages.x86_64-linux.image-release");
        assert_eq!(
            t[1].image,
            "github:o/n#packages.x86_64-linux.image-release-arm64"
        );
        assert_eq!(
            t[1].deps,
            "github:o/n#packages.x86_64-linux.deps-release-arm64"
        );
        assert_eq!(t[1].route.to_string(), "cross (from x86_64-linux)");
        let t = targets(
            &plan_for("refs/heads/main", ""),
            ".",
            &local("aarch64-linux"),
            Arm64Mode::Auto,
        );
        assert!(
            matches!(
                &t,
                Err(ReleaseError::Unbuildable(builders::Unbuildable {
                    platform: Platform::Amd64,
                    ..
                }))
            ),
            "{t:?}"
        );
        let e = targets(&plan, ".", &local("aarch64-linux"), Arm64Mode::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux/amd64 needs a build for x86_64-linux and this Nix cannot do one: it builds aarch64-linux"),
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
