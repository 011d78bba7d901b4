//! `ship release` for real: the Nix 2.8 fixture flake (amd64 natively, arm64 by its cross
//! attributes), a real Distribution registry on loopback, and a signed `file://` binary cache.
//! A completed release publishes both manifests, the index and every tag, and the deps; running
//! it again changes nothing; a registry killed mid-push publishes no index and no tag; a dry run
//! changes nothing and prints no secret.

use ship_test_support as support;
use ship_test_support::nix_fixture;

use std::path::{Path, PathBuf};
use std::process::Command;

use nix_fixture::{FixtureFlake, NixEnv, ReleaseWorkspace, OFFLINE};
use serde_json::Value;
use support::proxy::{Action, FaultProxy};
use support::registry::Registry;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct Setup {
    dir: tempfile::TempDir,
    flake: FixtureFlake,
    env: NixEnv,
    manifest: PathBuf,
    cache_dir: PathBuf,
    public_key: String,
    key_file: PathBuf,
}

/// A workspace manifest whose [workspace.metadata.ship] points at `repo` and a signed cache.
fn setup(repo: &str) -> Setup {
    let workspace = ReleaseWorkspace::new(repo);
    let cache = workspace.add_signed_file_cache("ship-release-test-1");
    let ReleaseWorkspace {
        dir,
        flake,
        env,
        manifest,
    } = workspace;
    Setup {
        dir,
        flake,
        env,
        manifest,
        cache_dir: cache.dir,
        public_key: cache.public_key,
        key_file: cache.key_file,
    }
}

impl Setup {
    fn release(&self, git_ref: &str, extra: &[&str]) -> (bool, String, String, Value) {
        let report = self.dir.path().join("report.json");
        let _ = std::fs::remove_file(&report);
        let home = self.dir.path().join("home");
        let mut cmd: Command = support::ship_in(&home);
        self.env.apply(&mut cmd, OFFLINE);
        cmd.arg("release")
            .arg("--manifest")
            .arg(&self.manifest)
            .args(["--flake", &self.flake.flake_ref()])
            .args(["--ref", git_ref, "--event", "push", "--sha", SHA])
            .arg("--report")
            .arg(&report)
            .args(extra);
        let (ok, stdout, stderr) = support::run(&mut cmd);
        let report: Value = std::fs::read_to_string(&report)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        (ok, stdout, stderr, report)
    }

    fn assert_secret_absent(&self, text: &str) {
        let secret = std::fs::read_to_string(&self.key_file).unwrap();
        let secret_part = secret.trim().rsplit(':').next().unwrap();
        assert!(!text.contains(secret_part), "secret key leaked");
        assert!(
            !text.contains(&self.key_file.display().to_string()),
            "secret key path leaked:\n{text}"
        );
    }
}

/// The image `reference` (`host/repo@digest`) pulled from the registry into an OCI layout with
/// skopeo and unpacked with umoci; returns its root filesystem.
fn unpack(reg: &Registry, reference: &str, dir: &Path) -> PathBuf {
    let umoci = support::require_tool(&["umoci"], "umoci");
    let name = reference.rsplit(':').next().unwrap()[..12].to_owned();
    let layout = dir.join(format!("oci-{name}"));
    let copied = reg
        .skopeo()
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .arg(format!("oci:{}:image", layout.display()))
        .output()
        .unwrap();
    assert!(copied.status.success(), "{copied:?}");
    let bundle = dir.join(format!("bundle-{name}"));
    let unpacked = Command::new(umoci)
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:image", layout.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(unpacked.status.success(), "{unpacked:?}");
    bundle.join("rootfs")
}

fn in_cache(env: &NixEnv, cache: &Path, path: &str) -> bool {
    env.nix_unchecked(&[
        "path-info",
        "--store",
        &format!("file://{}", cache.display()),
        path,
    ])
    .status
    .success()
}

#[test]
fn production_release_publishes_everything_and_a_rerun_changes_nothing() {
    let reg = Registry::start();
    let repo = reg.repo("team/fixture");
    let s = setup(&repo);

    let (ok, stdout, stderr, report) = s.release("refs/tags/v1.2.3", &[]);
    assert!(ok, "release failed:\n{stdout}\n{stderr}");
    s.assert_secret_absent(&format!("{stdout}{stderr}{report}"));
    assert_production_report(&report, &stdout);
    let images = report["images"].as_array().unwrap();
    let index = report["published"]["index"].as_str().unwrap().to_owned();
    // A first release: every layer compressed and uploaded, but for one the other platform's
    // image already pushed, which its record names.
    for i in images {
        for l in i["layers"].as_array().unwrap() {
            assert!(
                l["resolution"] == "uploaded" || l["resolution"] == "recorded",
                "{i}"
            );
            assert_eq!(l["compressed"], l["resolution"] == "uploaded", "{i}");
        }
    }

    // The registry has the index under every tag, and the index has exactly both platforms.
    let mut tags = reg.stored_tags("team/fixture");
    tags.sort();
    assert_eq!(tags, ["1", "1.2", "1.2.3", "latest", "sha-0123456"]);
    assert_index_of(&reg, &repo, images);

    assert_runtime_in_images(&reg, &s, &repo, images);
    assert_deps_cached(&s, &report);

    // Again: nothing to build, nothing uploaded, same index, tags unchanged, cache all present.
    let (ok, stdout, stderr, again) = s.release("refs/tags/v1.2.3", &[]);
    assert!(ok, "re-run failed:\n{stdout}\n{stderr}");
    assert_eq!(again["build"]["built"], 0);
    assert_eq!(
        again["build"]["hit_rate"],
        Value::Null,
        "all local: no rate"
    );
    for i in again["images"].as_array().unwrap() {
        assert_eq!(i["bytes_uploaded"], 0, "{i}");
        assert_eq!(i["layers_uploaded"], 0, "{i}");
        // Every layer found by its record: none read, none compressed.
        assert_eq!(i["layers_compressed"], 0, "{i}");
        let layers = i["layers"].as_array().unwrap();
        assert!(!layers.is_empty(), "{i}");
        for l in layers {
            assert_eq!(l["resolution"], "recorded", "{i}");
        }
    }
    assert_eq!(again["published"]["index"], index.as_str());
    assert_eq!(again["cache"]["paths_pushed"], 0, "{again:#}");
    assert!(
        stderr.contains("nothing changed: the registry already had this index and every tag"),
        "{stderr}"
    );
    let mut tags_again = reg.stored_tags("team/fixture");
    tags_again.sort();
    assert_eq!(tags_again, tags);
}

#[test]
fn registry_killed_mid_push_publishes_no_index_and_no_tag() {
    let mut reg = Registry::start();
    let killer = reg.kill_handle();
    let mut killer = Some(killer);
    let proxy = FaultProxy::start(reg.addr(), move |req| {
        // The first layer upload (the config and the layer records' empty config are small).
        if req.method == "PUT"
            && req.path.contains("/blobs/uploads/")
            && req.content_length > 8 * 1024
        {
            if let Some(k) = killer.take() {
                return Action::CutAfter(8 * 1024, Box::new(move || k.kill()));
            }
        }
        Action::Forward
    });
    let repo = format!("{}/team/fixture", proxy.addr());
    let s = setup(&repo);
    let (ok, stdout, stderr, report) = s.release("refs/tags/v1.2.3", &[]);
    assert!(!ok, "release should fail:\n{stdout}\n{stderr}");
    assert!(
        proxy.seen().iter().any(|l| l.contains("cut after")),
        "{:#?}",
        proxy.seen()
    );
    assert!(
        stderr.contains("release failed at push-images: linux/amd64"),
        "{stderr}"
    );
    assert!(
        stderr.contains("index: none; tags: none; cache: not pushed"),
        "{stderr}"
    );
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["published"]["index"], Value::Null);
    assert_eq!(report["published"]["tags"], serde_json::json!([]));
    s.assert_secret_absent(&format!("{stdout}{stderr}{report}"));
    assert!(
        !s.cache_dir.join("nix-cache-info").exists(),
        "cache pushed after a failed release"
    );

    reg.restart();
    assert_eq!(reg.stored_tags("team/fixture"), Vec::<String>::new());
    assert_eq!(reg.stored_manifests("team/fixture"), Vec::<String>::new());
}

#[test]
fn dry_run_prints_the_plan_of_work_and_changes_nothing() {
    let reg = Registry::start();
    let repo = reg.repo("team/fixture");
    let s = setup(&repo);
    let (ok, stdout, stderr, report) = s.release("refs/heads/main", &["--dry-run"]);
    assert!(ok, "dry run failed:\n{stdout}\n{stderr}");
    for needle in [
        "would nix build --json --no-link",
        "packages.x86_64-linux.image-dev",
        &format!("would push-image {}#packages.x86_64-linux.image-dev --to {repo} --platform linux/amd64", s.flake.flake_ref()),
        "then tags main, sha-0123456",
        "secret-key=***",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    s.assert_secret_absent(&format!("{stdout}{stderr}{report}"));
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["outcome"], "success");
    // Nix's read-only dry run measured what a build would do: everything is to be built.
    assert!(
        report["build"]["built"].as_u64().unwrap() >= 3,
        "{report:#}"
    );
    assert_eq!(report["build"]["hit_rate"], 0.0);
    assert_eq!(reg.stored_tags("team/fixture"), Vec::<String>::new());
    assert_eq!(reg.stored_manifests("team/fixture"), Vec::<String>::new());
    assert!(!s.cache_dir.exists(), "dry run wrote the cache");
    // And it built nothing.
    let out = s.env.nix(&[
        "build",
        "--dry-run",
        "--json",
        &s.flake.attr("packages.x86_64-linux.app-dev"),
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("will be built"),
        "dry run built the app"
    );
}

#[test]
fn production_on_a_machine_that_cannot_build_amd64_is_refused_before_building() {
    // Pretend to be an aarch64 machine: Nix's `system` setting is what ship asks.
    let reg = Registry::start();
    let s = setup(&reg.repo("team/fixture"));
    let home = s.dir.path().join("home");
    let mut cmd = support::ship_in(&home);
    s.env.apply(
        &mut cmd,
        &format!("{OFFLINE} --option system aarch64-linux"),
    );
    cmd.arg("release").arg("--manifest").arg(&s.manifest).args([
        "--flake",
        &s.flake.flake_ref(),
        "--ref",
        "refs/tags/v1.2.3",
    ]);
    let (ok, stdout, stderr) = support::run(&mut cmd);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains(
            "linux/amd64 needs a build for x86_64-linux and this Nix cannot do one: it builds aarch64-linux"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("index: none; tags: none"), "{stderr}");
    assert_eq!(reg.stored_manifests("team/fixture"), Vec::<String>::new());
}

/// A first production release's report: both platforms pushed with bytes sent, everything
/// built (offline: nothing fetched), both binaries measured, every budget named.
fn assert_production_report(report: &Value, stdout: &str) {
    assert_eq!(report["outcome"], "success", "{report:#}");
    assert_eq!(report["variant"], "production");
    let images = report["images"].as_array().unwrap();
    let platforms: Vec<_> = images
        .iter()
        .map(|i| i["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    assert!(images
        .iter()
        .all(|i| i["bytes_uploaded"].as_u64().unwrap() > 0));
    assert_eq!(report["build"]["fetched"], 0, "offline: nothing to fetch");
    assert!(
        report["build"]["built"].as_u64().unwrap() >= 6,
        "{report:#}"
    );
    assert_eq!(report["binaries"].as_array().unwrap().len(), 2);
    assert!(report["binaries"][0]["bytes"].as_u64().unwrap() > 0);
    assert!(
        stdout.contains("### ship release: `production` (success)"),
        "{stdout}"
    );
    let budgets: Vec<_> = report["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        budgets,
        [
            "production build",
            "registry push",
            "cache hit rate",
            "binary vs default release build"
        ]
    );
}

/// `repo:1.2.3` is an OCI index over exactly `images` (amd64, arm64), in that order.
fn assert_index_of(reg: &Registry, repo: &str, images: &[Value]) {
    let idx: Value =
        serde_json::from_str(&reg.inspect_raw(&format!("{repo}:1.2.3"), None)).unwrap();
    assert_eq!(idx["mediaType"], "application/vnd.oci.image.index.v1+json");
    let archs: Vec<_> = idx["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    for (i, m) in idx["manifests"].as_array().unwrap().iter().enumerate() {
        assert_eq!(m["digest"], images[i]["digest"]);
    }
}

/// The deps derivations are in the cache, though no runtime closure holds them, and the cache
/// verifies with the public key.
fn assert_deps_cached(s: &Setup, report: &Value) {
    let deps = s.env.nix(&[
        "build",
        "--no-link",
        "--json",
        &s.flake.attr("packages.x86_64-linux.deps-release"),
    ]);
    let deps: Value = serde_json::from_slice(&deps.stdout).unwrap();
    let deps_path = deps[0]["outputs"]["out"].as_str().unwrap();
    assert!(
        in_cache(&s.env, &s.cache_dir, deps_path),
        "deps-release not in the cache"
    );
    let verify = s.env.nix_unchecked(&[
        "store",
        "verify",
        "--all",
        "--store",
        &format!("file://{}", s.cache_dir.display()),
        "--trusted-public-keys",
        &s.public_key,
    ]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        report["cache"]["paths_pushed"].as_u64().unwrap() >= 4,
        "{report:#}"
    );
}

/// What the runtime table put in each pushed image, read back from the registry: the config's
/// Env, WorkingDir and ports, and configuration/ in its layers.
fn assert_runtime_in_images(reg: &Registry, s: &Setup, repo: &str, images: &[Value]) {
    let fixture_config =
        std::fs::read_to_string(s.flake.dir().join("configuration/service.json")).unwrap();
    for image in images {
        let pinned = format!("{repo}@{}", image["digest"].as_str().unwrap());
        let config = reg
            .skopeo()
            .args([
                "inspect",
                "--config",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{pinned}"),
            ])
            .output()
            .unwrap();
        assert!(config.status.success(), "{config:?}");
        let config: Value = serde_json::from_slice(&config.stdout).unwrap();
        assert_eq!(
            config["config"]["Env"],
            serde_json::json!(["APP_ENVIRONMENT=fixture", "LISTEN_ADDR=0.0.0.0:8080"]),
            "{pinned}"
        );
        assert_eq!(config["config"]["WorkingDir"], "/app", "{pinned}");
        assert_eq!(
            config["config"]["ExposedPorts"],
            serde_json::json!({"8080/tcp": {}}),
            "{pinned}"
        );
        let rootfs = unpack(reg, &pinned, s.dir.path());
        assert_eq!(
            std::fs::read_to_string(rootfs.join("app/configuration/service.json")).unwrap(),
            fixture_config,
            "{pinned}"
        );
    }
}
