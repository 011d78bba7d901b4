//! `ship release` with Nix's distributed builds, for real: an aarch64-linux remote builder
//! (OpenSSH on loopback, ship_test_support::sshd) configured through a machines file, the
//! fixture flake
//! and a Distribution registry. ship builds `packages.aarch64-linux.*` (the native derivations,
//! not the cross ones) through the builder and says so; the same release with
//! `extra-platforms = aarch64-linux` builds them on this machine; a builder that is down stops
//! the release before anything is built or published.

use ship_test_support as support;
use ship_test_support::nix_fixture;

use std::path::PathBuf;

use nix_fixture::{FixtureFlake, NixEnv, ReleaseWorkspace, OFFLINE};
use serde_json::Value;
use support::registry::Registry;
use support::sshd::{Sshd, HOST};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct Setup {
    dir: tempfile::TempDir,
    flake: FixtureFlake,
    env: NixEnv,
    manifest: PathBuf,
}

fn setup(repo: &str) -> Setup {
    let ReleaseWorkspace {
        dir,
        flake,
        env,
        manifest,
    } = ReleaseWorkspace::new(repo);
    Setup {
        dir,
        flake,
        env,
        manifest,
    }
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    report: Value,
}

impl Setup {
    /// `ship release` of the production variant with `nix_args` for Nix (after OFFLINE) and
    /// NIX_SSHOPTS reaching `sshd`'s host alias.
    fn release(&self, sshd: &Sshd, nix_args: &str, extra: &[&str]) -> Run {
        let report = self.dir.path().join("report.json");
        let _ = std::fs::remove_file(&report);
        let mut cmd = support::ship_in(&self.dir.path().join("home"));
        self.env.apply(&mut cmd, &format!("{OFFLINE} {nix_args}"));
        cmd.env("NIX_SSHOPTS", sshd.nix_sshopts())
            .arg("release")
            .arg("--manifest")
            .arg(&self.manifest)
            .args(["--flake", &self.flake.flake_ref()])
            .args(["--ref", "refs/tags/v1.2.3", "--event", "push", "--sha", SHA])
            .arg("--report")
            .arg(&report)
            .args(extra);
        let (ok, stdout, stderr) = support::run(&mut cmd);
        let report = std::fs::read_to_string(&report)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        Run {
            ok,
            stdout,
            stderr,
            report,
        }
    }
}

fn route<'r>(report: &'r Value, platform: &str) -> &'r Value {
    report["routes"]
        .as_array()
        .and_then(|routes| routes.iter().find(|r| r["platform"] == platform))
        .map(|r| &r["route"])
        .unwrap_or_else(|| panic!("no route for {platform} in {report:#}"))
}

fn binary_path(report: &Value, platform: &str) -> String {
    report["binaries"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["platform"] == platform))
        .and_then(|b| b["path"].as_str())
        .unwrap_or_else(|| panic!("no {platform} binary in {report:#}"))
        .to_owned()
}

#[test]
fn arm64_builds_natively_through_an_ssh_ng_builder_and_the_release_says_so() {
    let sshd = Sshd::start();
    let reg = Registry::start();
    let s = setup(&reg.repo("team/remote"));
    let machines = sshd.machines_file(&[sshd.machine_line("ssh-ng", "aarch64-linux")]);
    let nix_args = format!("--option builders @{}", machines.display());

    // The dry run already names the builder, after checking that it answers.
    let dry = s.release(&sshd, &nix_args, &["--dry-run"]);
    assert!(dry.ok, "dry run failed:\n{}\n{}", dry.stdout, dry.stderr);
    let says = format!("remote builder ssh-ng://{HOST} (aarch64-linux)");
    assert!(
        dry.stderr
            .contains(&format!("would build linux/arm64: {says}")),
        "{}",
        dry.stderr
    );
    assert!(
        sshd.remote_commands().contains("nix-daemon --stdio"),
        "the dry run did not reach the builder: {:?}",
        sshd.remote_commands()
    );
    assert_eq!(reg.stored_manifests("team/remote"), Vec::<String>::new());

    let run = s.release(&sshd, &nix_args, &[]);
    assert!(
        run.ok,
        "release failed:\n{}\n{}\nsshd:\n{}",
        run.stdout,
        run.stderr,
        sshd.log()
    );
    let r = &run.report;
    assert_eq!(r["outcome"], "success", "{r:#}");
    assert_eq!(
        route(r, "linux/arm64"),
        &serde_json::json!({"kind": "remote", "system": "aarch64-linux", "builders": [format!("ssh-ng://{HOST}")], "fallback": null})
    );
    assert_eq!(route(r, "linux/amd64")["kind"], "native");
    // The native derivations, the ones a native arm64 runner builds and caches.
    let arm = r["routes"][1]["installable"].as_str().unwrap();
    assert!(
        arm.ends_with("#packages.aarch64-linux.image-release"),
        "{arm}"
    );
    assert!(
        run.stdout.contains(&format!("| linux/arm64 | {says} |")),
        "{}",
        run.stdout
    );
    // Nix's own log, echoed by ship: the derivations went to the builder...
    assert!(
        run.stderr.contains(&format!("on 'ssh-ng://{HOST}'")),
        "{}",
        run.stderr
    );
    // ...and the arm64 app exists in the builder's store: it was built there. (The fixture's
    // native aarch64 derivations run the host's `gcc`, so the binary's architecture proves
    // nothing here; the store it was built in does.)
    let arm_bin = binary_path(r, "linux/arm64");
    assert!(
        sshd.remote_store_has(&arm_bin),
        "{arm_bin} is not in the builder's store"
    );
    let amd_bin = binary_path(r, "linux/amd64");
    assert!(
        !sshd.remote_store_has(&amd_bin),
        "amd64 went to the builder"
    );
    // Both platforms and the index are published.
    assert_eq!(reg.stored_manifests("team/remote").len(), 3, "{r:#}");
    assert!(r["published"]["index"].is_string());
}

#[test]
fn extra_platforms_build_arm64_natively_here_unless_a_builder_takes_it() {
    let mut sshd = Sshd::start();
    let reg = Registry::start();
    let extra = "--option extra-platforms aarch64-linux";

    // extra-platforms alone: this machine builds the native aarch64 derivations.
    let s = setup(&reg.repo("team/extra"));
    let run = s.release(&sshd, &format!("--option builders '' {extra}"), &[]);
    assert!(run.ok, "release failed:\n{}\n{}", run.stdout, run.stderr);
    let r = &run.report;
    assert_eq!(
        route(r, "linux/arm64"),
        &serde_json::json!({"kind": "extra-platform", "system": "aarch64-linux"})
    );
    assert!(
        run.stdout
            .contains("| linux/arm64 | extra-platform (aarch64-linux on this machine) |"),
        "{}",
        run.stdout
    );
    let arm_bin = binary_path(r, "linux/arm64");
    assert!(std::path::Path::new(&arm_bin).is_file(), "{arm_bin}");
    assert_eq!(sshd.remote_commands(), "", "the builder was contacted");
    assert_eq!(reg.stored_manifests("team/extra").len(), 3, "{r:#}");

    // With a builder as well, Nix hands the build to the builder first; ship says so.
    let both = format!(
        "--option builders @{} {extra}",
        sshd.machines_file(&[sshd.machine_line("ssh", "aarch64-linux")])
            .display()
    );
    let s = setup(&reg.repo("team/both"));
    let run = s.release(&sshd, &both, &[]);
    assert!(run.ok, "release failed:\n{}\n{}", run.stdout, run.stderr);
    let arm = route(&run.report, "linux/arm64");
    assert_eq!(arm["kind"], "remote", "{arm}");
    assert_eq!(
        arm["builders"],
        serde_json::json!([format!("ssh://{HOST}")])
    );
    assert_eq!(arm["fallback"]["kind"], "extra-platform", "{arm}");
    assert!(
        sshd.remote_store_has(&binary_path(&run.report, "linux/arm64")),
        "the builder did not build it:\n{}",
        run.stderr
    );

    // The builder down: this machine builds it, as Nix does, and the report says where.
    sshd.stop();
    let s = setup(&reg.repo("team/fallback"));
    let run = s.release(&sshd, &both, &[]);
    assert!(run.ok, "release failed:\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        route(&run.report, "linux/arm64"),
        &serde_json::json!({"kind": "extra-platform", "system": "aarch64-linux"})
    );
    assert!(!sshd.remote_store_has(&binary_path(&run.report, "linux/arm64")));
}

#[test]
fn a_builder_that_is_down_stops_the_release_before_anything_is_built() {
    let mut sshd = Sshd::start();
    let reg = Registry::start();
    let s = setup(&reg.repo("team/down"));
    let machines = sshd.machines_file(&[sshd.machine_line("ssh-ng", "aarch64-linux")]);
    sshd.stop();
    let run = s.release(
        &sshd,
        &format!("--option builders @{}", machines.display()),
        &[],
    );
    assert!(!run.ok, "{}", run.stdout);
    let err = &run.stderr;
    for needle in [
        "release failed at check-builders: linux/arm64 builds on aarch64-linux remote builders \
         and none answers: ssh-ng://ship-builder:",
        "Connection refused",
        "`--arm64 cross`",
        "published: manifests: none; index: none; tags: none; cache: not pushed",
    ] {
        assert!(err.contains(needle), "{needle}:\n{err}");
    }
    // The identity file's path is shown at most redacted.
    assert!(
        !err.contains(&sshd.client_key().display().to_string()),
        "{err}"
    );
    assert_eq!(run.report["outcome"], "failed");
    let steps: Vec<_> = run.report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["detect-builders", "check-builders"]);
    assert_eq!(reg.stored_manifests("team/down"), Vec::<String>::new());
    // Nothing was built: the amd64 app is still unbuilt.
    let out = s.env.nix(&[
        "build",
        "--dry-run",
        &s.flake.attr("packages.x86_64-linux.app-release"),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("will be built"));

    // --arm64 cross builds without the builder.
    let run = s.release(
        &sshd,
        &format!("--option builders @{}", machines.display()),
        &["--arm64", "cross"],
    );
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(route(&run.report, "linux/arm64")["kind"], "cross");
}
