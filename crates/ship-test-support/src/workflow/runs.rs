//! The inputs of the agreement check for a workspace: `ship plan --format github` run as a
//! workflow step runs it, for every run a workflow can start with, and the flake's package
//! names from nix/lib/attrs.nix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use yaml_rust2::YamlLoader;

use super::{parse_github_output, Packages, PlanRun};

pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// `ship plan --format github` exactly as a workflow step runs it: the GitHub context only
/// through the environment GitHub sets, GITHUB_OUTPUT a fresh file.
pub fn plan_run(manifest: &Path, git_ref: &str, event: &str, variant: Option<&str>) -> PlanRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("github_output");
    let mut cmd = crate::ship();
    cmd.env("GITHUB_REF", git_ref)
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_SHA", SHA)
        .env("GITHUB_OUTPUT", &output)
        .arg("plan")
        .arg("--manifest")
        .arg(manifest)
        .args(["--format", "github"]);
    if let Some(v) = variant {
        cmd.args(["--variant", v]);
    }
    let out = cmd.output().expect("run ship");
    assert!(
        out.status.success(),
        "ship plan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&output).expect("read GITHUB_OUTPUT");
    let outputs = parse_github_output(&text).unwrap_or_else(|e| panic!("{e}"));
    let label = match variant {
        Some(v) => format!("{event} of {git_ref} with --variant {v}"),
        None => format!("{event} of {git_ref}"),
    };
    PlanRun { label, outputs }
}

/// ship-release.yml's `workflow_dispatch` variant choices.
pub fn dispatch_variants(release_yml: &str) -> Vec<String> {
    let doc = YamlLoader::load_from_str(release_yml)
        .expect("valid YAML")
        .remove(0);
    doc["on"]["workflow_dispatch"]["inputs"]["variant"]["options"]
        .as_vec()
        .expect("ship-release.yml: workflow_dispatch.inputs.variant.options")
        .iter()
        .map(|o| o.as_str().expect("option is a string").to_owned())
        .collect()
}

/// Every run ship-release.yml can start with: both tag kinds, and a manual run of each variant.
pub fn release_runs(manifest: &Path, release_yml: &str) -> Vec<PlanRun> {
    let mut runs = vec![
        plan_run(manifest, "refs/tags/v1.2.3", "push", None),
        plan_run(manifest, "refs/tags/dev-3", "push", None),
    ];
    for v in dispatch_variants(release_yml) {
        runs.push(plan_run(
            manifest,
            "refs/heads/main",
            "workflow_dispatch",
            Some(&v),
        ));
    }
    runs
}

/// Every run ship.yml starts with: a pull request and a push to main.
pub fn ci_runs(manifest: &Path) -> Vec<PlanRun> {
    vec![
        plan_run(manifest, "refs/pull/42/merge", "pull_request", None),
        plan_run(manifest, "refs/heads/main", "push", None),
    ]
}

/// `packages.<system>` names of the flake for a manifest's configuration, from
/// nix/lib/attrs.nix (the names the flake library exposes), evaluated by Nix itself.
pub fn flake_packages(manifest: &Path) -> Packages {
    let expr = format!(
        "let lib = import {}; in lib.attrs.packageNames (lib.config {{ path = {}; }})",
        crate::repo().join("nix/lib").display(),
        manifest.display()
    );
    let out = crate::output_ok(
        crate::nix_instantiate().args(["--eval", "--strict", "--json", "-E", &expr]),
    );
    let names: BTreeMap<String, BTreeSet<String>> =
        serde_json::from_slice(&out.stdout).expect("packageNames is {system: [name]}");
    assert!(
        names.contains_key("x86_64-linux") && names.contains_key("aarch64-linux"),
        "packageNames covers both systems: {names:?}"
    );
    names
}
