//! ship-release.yml run here, job by job, as GitHub would run it for a `v1.2.3` and a `dev-3` tag:
//! the plan job's steps, one build job per matrix entry (the Nix 2.8 fixture flake stands in
//! for the real one: same attribute names), then publish, with the real `ship` against a real
//! registry (htpasswd auth) and a `file://` binary cache. What the shell in the workflow does
//! (JSON fields it reads from ship, the digest handed from build to publish, the tag list, the
//! report) is exercised for real; only the actions (checkout, Nix, cachix, artifacts) are not:
//! artifacts are emulated by the shared RUNNER_TEMP, and a test below checks that upload and
//! download name the same directory.

use ship_test_support as support;
use ship_test_support::nix_fixture;
use ship_test_support::workflow::runner;

use std::path::{Path, PathBuf};

use nix_fixture::{FixtureFlake, NixEnv, OFFLINE};
use runner::{run_job, Contexts};
use support::registry::{Registry, RegistryOptions};
use yaml_rust2::{Yaml, YamlLoader};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const USER: &str = "release-bot";
// Stands in for GITHUB_TOKEN: it must never show up in a log or summary.
const TOKEN: &str = "ghs-not-a-real-token-4b1d2c";

fn release_yml() -> Yaml {
    let text = std::fs::read_to_string(support::repo().join(".github/workflows/ship-release.yml"))
        .expect("read ship-release.yml");
    YamlLoader::load_from_str(&text)
        .expect("valid YAML")
        .remove(0)
}

/// Makes the fixture flake's directory look like a checkout of a project using ship: a
/// workspace manifest (its binary, the test registry, a file:// cache, arm64 by
/// cross-compilation so both platforms build on this x86_64 machine). The workflows need no
/// other file: `ship init` writes only them.
fn checkout(dir: &Path, image: &str, cache: &Path) {
    let path = dir.join("Cargo.toml");
    std::fs::write(
        &path,
        format!(
            "[workspace]\n\n[package]\nname = \"fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace.metadata.ship]\nimage = \"{image}\"\nbinary = \"fixture\"\n\
             cache = \"file://{}\"\n\n\
             [workspace.metadata.ship.builders.\"linux/arm64\"]\ncross = true\n",
            cache.display()
        ),
    )
    .expect("write manifest");
}

#[test]
fn artifacts_hand_over_one_directory() {
    let doc = release_yml();
    let with_of = |job: &str, action: &str| -> Yaml {
        doc["jobs"][job]["steps"]
            .as_vec()
            .expect("steps")
            .iter()
            .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
            .unwrap_or_else(|| panic!("{job} has no {action} step"))["with"]
            .clone()
    };
    let up = with_of("build", "actions/upload-artifact@");
    let down = with_of("publish", "actions/download-artifact@");
    let norm = |y: &Yaml| y.as_str().expect("path").trim_end_matches('/').to_owned();
    assert_eq!(norm(&up["path"]), "${{ runner.temp }}/release");
    assert_eq!(norm(&up["path"]), norm(&down["path"]));
    assert_eq!(up["name"].as_str(), Some("release-${{ matrix.arch }}"));
    assert_eq!(down["pattern"].as_str(), Some("release-*"));
    assert_eq!(down["merge-multiple"], Yaml::Boolean(true));
}

/// The environment a GitHub-hosted runner gives a step, for this machine: ship on PATH, Nix
/// configured as install-nix-action does (minus the unreachable substituters), the run's
/// GitHub variables.
fn runner_env(
    run: &Path,
    nix: &NixEnv,
    git_ref: &str,
    event: &str,
) -> (Vec<(String, String)>, PathBuf) {
    let (home, runner_temp) = (run.join("home"), run.join("runner-temp"));
    for d in [&home, &runner_temp] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let ship_dir = Path::new(env!("CARGO_BIN_EXE_ship"))
        .parent()
        .expect("ship's directory")
        .to_owned();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![ship_dir];
    dirs.extend(std::env::split_paths(&path));
    let env = [
        (
            "PATH",
            std::env::join_paths(dirs)
                .expect("PATH")
                .to_string_lossy()
                .into_owned(),
        ),
        ("HOME", home.display().to_string()),
        ("TMPDIR", runner_temp.display().to_string()),
        ("RUNNER_TEMP", runner_temp.display().to_string()),
        ("GITHUB_REF", git_ref.to_owned()),
        ("GITHUB_EVENT_NAME", event.to_owned()),
        ("GITHUB_SHA", SHA.to_owned()),
        ("GITHUB_ACTOR", USER.to_owned()),
        (
            "NIX_CONFIG",
            "experimental-features = nix-command flakes\nsubstituters =".to_owned(),
        ),
        ("SHIP_NIX_ARGS", OFFLINE.to_owned()),
        (
            "XDG_CACHE_HOME",
            nix.cache_home.path().display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    (env, runner_temp)
}

/// ship.yml's job for a pull request: the plan table and the dev image's cache hit rate in the
/// summary, the dev image built, and the flake checked.
#[test]
fn ci_workflow_runs_end_to_end() {
    let flake = FixtureFlake::prepare();
    let nix = NixEnv::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    checkout(
        flake.dir(),
        "127.0.0.1:5000/e2e/demo",
        &tmp.path().join("cache"),
    );
    let text = std::fs::read_to_string(support::repo().join(".github/workflows/ship.yml"))
        .expect("ship.yml");
    let doc = YamlLoader::load_from_str(&text).expect("YAML").remove(0);
    let run = tmp.path().join("run");
    let (env, runner_temp) = runner_env(&run, &nix, "refs/pull/42/merge", "pull_request");
    let mut ctx = Contexts::default();
    ctx.set("runner.temp", &runner_temp.display().to_string());
    let job = run_job(
        &doc["jobs"]["check"],
        flake.dir(),
        &ctx,
        &env,
        &run.join("check"),
    );
    assert_eq!(
        job.ran,
        [
            "Cache name",
            "Plan",
            "Build the dev image",
            "nix flake check"
        ],
        "steps run (actions and the ship bootstrap aside)"
    );
    for want in [
        "### What a release of this ref would build",
        "variant    dev (selected by default-variant)",
        "tags       pr-42, sha-0123456",
        "`.#image-dev`",
        "cache hit rate",
    ] {
        assert!(
            job.summary.contains(want),
            "summary lacks {want:?}:\n{}",
            job.summary
        );
    }
}

#[test]
fn release_workflow_runs_end_to_end() {
    let flake = FixtureFlake::prepare();
    let nix = NixEnv::new();
    let registry = Registry::start_with(RegistryOptions {
        login: Some((USER.into(), TOKEN.into())),
        ..RegistryOptions::default()
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let repo_path = "e2e/demo";
    let image = registry.repo(repo_path);
    checkout(flake.dir(), &image, &cache);
    let doc = release_yml();
    let jobs = &doc["jobs"];
    assert_eq!(
        jobs["build"]["strategy"]["matrix"].as_str(),
        Some("${{ fromJSON(needs.plan.outputs.matrix) }}"),
        "this test expands the matrix the way GitHub does for that expression"
    );

    let mut published = Vec::new();
    for (n, (git_ref, platforms, tags)) in [
        (
            "refs/tags/v1.2.3",
            vec!["linux/amd64", "linux/arm64"],
            vec!["1", "1.2", "1.2.3", "latest", "sha-0123456"],
        ),
        (
            "refs/tags/dev-3",
            vec!["linux/amd64"],
            vec!["dev-3", "sha-0123456"],
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let run = tmp.path().join(format!("run-{n}"));
        let (base_env, runner_temp) = runner_env(&run, &nix, git_ref, "push");
        let mut ctx = Contexts::default();
        ctx.set("secrets.GITHUB_TOKEN", TOKEN);
        ctx.set("github.actor", USER);
        ctx.set("runner.temp", &runner_temp.display().to_string());

        let (entries, summary, logs) =
            run_release(jobs, flake.dir(), ctx, &base_env, &run, git_ref);

        // Published: the index under every tag of the plan, over exactly the plan's platforms.
        let index = assert_published(&registry, repo_path, git_ref, &entries, &platforms, &tags);
        published.push(index);

        assert_report_and_cache(git_ref, &summary, &entries, &runner_temp, &cache);

        let everything = logs.join("\n");
        assert!(
            !everything.contains(TOKEN),
            "{git_ref}: the registry token appears in a log or summary"
        );
    }
    assert_ne!(
        published[0], published[1],
        "the two releases publish different indexes"
    );
    // The registry demanded the token, so the workflow really handed it to ship (and the
    // check above that it never shows up means something).
    let anonymous = registry
        .skopeo()
        .args(["inspect", "--raw", "--tls-verify=false", "--no-creds"])
        .arg(format!("docker://{image}:latest"))
        .output()
        .expect("run skopeo");
    let err = String::from_utf8_lossy(&anonymous.stderr).to_lowercase();
    assert!(
        // skopeo 1.9 says "unauthorized", 1.22 "authentication required".
        !anonymous.status.success()
            && ["unauthorized", "401", "authentication required"]
                .iter()
                .any(|m| err.contains(m)),
        "the test registry should refuse anonymous reads: {err}"
    );
}

/// The plan job, one build job per matrix entry (as GitHub expands
/// `fromJSON(needs.plan.outputs.matrix)`), then publish: the matrix entries, publish's summary
/// and every log and summary written.
fn run_release(
    jobs: &Yaml,
    workdir: &Path,
    mut ctx: Contexts,
    base_env: &[(String, String)],
    run: &Path,
    git_ref: &str,
) -> (Vec<serde_json::Value>, String, Vec<String>) {
    let plan = run_job(&jobs["plan"], workdir, &ctx, base_env, &run.join("plan"));
    for (k, v) in &plan.outputs {
        ctx.set(&format!("needs.plan.outputs.{k}"), v);
    }
    let matrix: serde_json::Value =
        serde_json::from_str(&plan.outputs["matrix"]).expect("matrix JSON");
    let mut logs = vec![plan.log, plan.summary];
    let entries = matrix["include"].as_array().expect("include");
    for (i, entry) in entries.iter().enumerate() {
        let mut job_ctx = ctx.clone();
        for (k, v) in entry.as_object().expect("entry") {
            let v = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            job_ctx.set(&format!("matrix.{k}"), &v);
        }
        let build = run_job(
            &jobs["build"],
            workdir,
            &job_ctx,
            base_env,
            &run.join(format!("build-{i}")),
        );
        assert!(
            build.ran.iter().any(|s| s == "Push the binary cache"),
            "the cache push ran: {:?}",
            build.ran
        );
        logs.extend([build.log, build.summary]);
    }
    let publish = run_job(
        &jobs["publish"],
        workdir,
        &ctx,
        base_env,
        &run.join("publish"),
    );
    let summary = publish.summary.clone();
    eprintln!(
        "--- {git_ref}: publish summary\n{summary}\n--- log\n{}",
        publish.log
    );
    logs.extend([publish.log, publish.summary]);
    (entries.clone(), summary, logs)
}

/// The index is under every tag of the plan and over exactly the plan's platforms; returns it.
fn assert_published(
    registry: &Registry,
    repo_path: &str,
    git_ref: &str,
    entries: &[serde_json::Value],
    platforms: &[&str],
    tags: &[&str],
) -> serde_json::Value {
    let image = registry.repo(repo_path);
    let got_platforms: Vec<String> = entries
        .iter()
        .map(|e| e["platform"].as_str().expect("platform").to_owned())
        .collect();
    assert_eq!(got_platforms, platforms, "{git_ref}");
    for tag in tags {
        assert!(
            registry.stored_tags(repo_path).contains(&tag.to_string()),
            "{git_ref}: tag {tag} missing: {:?}",
            registry.stored_tags(repo_path)
        );
    }
    let index: serde_json::Value = serde_json::from_str(&registry.inspect_raw(
        &format!("{image}:{}", tags[0]),
        Some(&format!("{USER}:{TOKEN}")),
    ))
    .expect("index JSON");
    let mut in_index: Vec<String> = index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("{git_ref}: not an index: {index}"))
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().expect("os"),
                m["platform"]["architecture"]
                    .as_str()
                    .expect("architecture")
            )
        })
        .collect();
    in_index.sort();
    assert_eq!(in_index, platforms, "{git_ref}: index {index}");
    index
}

/// The report has every platform's build, push and cache figures and the index; the binary
/// cache got each app and its dependency-only derivation (in no runtime closure).
fn assert_report_and_cache(
    git_ref: &str,
    summary: &str,
    entries: &[serde_json::Value],
    runner_temp: &Path,
    cache: &Path,
) {
    for arch in entries.iter().map(|e| e["arch"].as_str().expect("arch")) {
        assert!(
            summary.contains(&format!("### {arch}\n")),
            "{git_ref}: {summary}"
        );
    }
    for want in [
        "cache hit rate",
        "- push: ",
        "layers uploaded",
        "- binary `fixture`: ",
        "- cache push: ",
        "index ",
    ] {
        assert!(
            summary.contains(want),
            "{git_ref}: report lacks {want:?}:\n{summary}"
        );
    }
    // The binary cache got app and the dependency-only derivation (in no runtime closure).
    for arch in entries.iter().map(|e| e["arch"].as_str().expect("arch")) {
        let built: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(runner_temp.join("release").join(arch).join("build.json"))
                .expect("build.json of the build job"),
        )
        .expect("ship build JSON");
        for (i, what) in [(1, "app"), (2, "deps")] {
            let path = built["outputs"][i]["outputs"]["out"]
                .as_str()
                .expect("out path");
            let hash = &path["/nix/store/".len().."/nix/store/".len() + 32];
            assert!(
                cache.join(format!("{hash}.narinfo")).is_file(),
                "{git_ref} {arch}: {what} {path} is not in the binary cache"
            );
        }
    }
    // And `ship` itself, as every build job pushes it (`.#ship`, the fixture's stand-in).
    let narinfos: Vec<String> = std::fs::read_dir(cache)
        .expect("read the cache")
        .filter_map(|e| {
            let path = e.expect("cache entry").path();
            (path.extension()? == "narinfo")
                .then(|| std::fs::read_to_string(path).expect("narinfo"))
        })
        .collect();
    assert!(
        narinfos.iter().any(|n| n.contains("-ship-stand-in\n")),
        "{git_ref}: ship is not in the binary cache"
    );
}
