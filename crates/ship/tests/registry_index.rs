//! `ship push-index` against a real Distribution registry: children checked before anything
//! is written, the index as skopeo sees it, tags written last and re-runs changing nothing.

use ship_test_support as support;

use std::path::Path;

use serde_json::Value;
use support::image::{write_archive, ImageSpec};
use support::registry::Registry;
use support::{run, run_json, ship_in};

fn push_image(home: &Path, image: &Path, repo: &str) -> String {
    let out = run_json(
        ship_in(home)
            .arg("push-image")
            .arg(image)
            .args(["--to", repo, "--format", "json"]),
    );
    out["manifest_digest"].as_str().expect("digest").to_owned()
}

fn push_index(
    home: &Path,
    repo: &str,
    tags: &[&str],
    children: &[String],
) -> (bool, String, String) {
    let mut cmd = ship_in(home);
    cmd.arg("push-index")
        .args(["--to", repo, "--format", "json"]);
    for t in tags {
        cmd.args(["--tag", t]);
    }
    cmd.args(children);
    run(&mut cmd)
}

/// A registry with an amd64 and an arm64 image pushed to team/app; their digests.
fn two_platforms(reg: &Registry, home: &Path, dir: &Path) -> (String, String) {
    let amd = write_archive(dir, "amd64.tar", &ImageSpec::demo("amd64", 21));
    let arm = write_archive(dir, "arm64.tar", &ImageSpec::demo("arm64", 22));
    (
        push_image(home, &amd, &reg.repo("team/app")),
        push_image(home, &arm, &reg.repo("team/app")),
    )
}

#[test]
fn index_is_published_tags_point_at_it_and_a_rerun_changes_nothing() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let (amd, arm) = two_platforms(&reg, home.path(), home.path());
    let repo = reg.repo("team/app");
    // Children in "wrong" order: the index is sorted by platform anyway.
    let children = [format!("{arm}@linux/arm64"), format!("{amd}@linux/amd64")];

    let (ok, stdout, stderr) =
        push_index(home.path(), &repo, &["1.2.3", "1.2", "latest"], &children);
    assert!(ok, "{stderr}");
    let pushed: Value = serde_json::from_str(&stdout).unwrap();
    let digest = pushed["digest"].as_str().unwrap().to_owned();
    assert_eq!(pushed["index_uploaded"], true);
    for t in pushed["tags"].as_array().unwrap() {
        assert_eq!(t["status"], "created", "{t}");
    }

    assert_stored_index(&reg, &repo, &digest, [&amd, &arm]);

    // Same inputs again (other order, from a fresh client): same digest, nothing written.
    let fresh = tempfile::tempdir().unwrap();
    let again_children = [children[1].clone(), children[0].clone()];
    let (ok, stdout, stderr) = push_index(
        fresh.path(),
        &repo,
        &["1.2.3", "1.2", "latest"],
        &again_children,
    );
    assert!(ok, "{stderr}");
    let again: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(again["digest"], pushed["digest"]);
    assert_eq!(again["index_uploaded"], false);
    for t in again["tags"].as_array().unwrap() {
        assert_eq!(t["status"], "unchanged", "{t}");
    }
    // The text form says so.
    let (ok, stdout, stderr) = run(ship_in(fresh.path())
        .arg("push-index")
        .args(["--to", &repo, "--tag", "latest"])
        .args(&again_children));
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), digest);
    assert!(
        stderr.contains("tag latest: already points at this index, changes nothing"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing changed"), "{stderr}");

    // A new release moves an existing tag and says from where.
    let amd2 = push_image(
        home.path(),
        &write_archive(home.path(), "amd64-v2.tar", &ImageSpec::demo("amd64", 23)),
        &repo,
    );
    let (ok, stdout, stderr) = push_index(
        home.path(),
        &repo,
        &["latest"],
        &[format!("{amd2}@linux/amd64"), children[0].clone()],
    );
    assert!(ok, "{stderr}");
    let moved: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(moved["tags"][0]["status"], "moved");
    assert_eq!(moved["tags"][0]["previous"], pushed["digest"]);
    assert_eq!(
        reg.inspect_raw(&format!("{repo}:latest"), None),
        reg.inspect_raw(
            &format!("{repo}@{}", moved["digest"].as_str().unwrap()),
            None
        )
    );
}

#[test]
fn index_with_a_missing_child_is_refused_and_nothing_is_published() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let (amd, _arm) = two_platforms(&reg, home.path(), home.path());
    let before = reg.stored_manifests("team/app");
    let absent = ship::oci::Digest::of(b"never pushed");
    let (ok, stdout, stderr) = push_index(
        home.path(),
        &reg.repo("team/app"),
        &["1.0.0", "latest"],
        &[
            format!("{amd}@linux/amd64"),
            format!("{absent}@linux/arm64"),
        ],
    );
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains(&reg.repo("team/app")), "{stderr}");
    assert!(
        stderr.contains(&format!("{absent} (given for linux/arm64) is not in")),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(reg.stored_tags("team/app"), Vec::<String>::new());
    assert_eq!(reg.stored_manifests("team/app"), before);
}

#[test]
fn index_with_a_platform_mismatch_is_refused() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let (amd, arm) = two_platforms(&reg, home.path(), home.path());
    let before = reg.stored_manifests("team/app");
    // Swapped: each digest given for the other platform.
    let (ok, _, stderr) = push_index(
        home.path(),
        &reg.repo("team/app"),
        &["latest"],
        &[format!("{arm}@linux/amd64"), format!("{amd}@linux/arm64")],
    );
    assert!(!ok);
    assert!(
        stderr.contains(&format!(
            "{arm} (given for linux/amd64) is a linux/arm64 image according to its config"
        )),
        "{stderr}"
    );
    assert_eq!(reg.stored_tags("team/app"), Vec::<String>::new());
    assert_eq!(reg.stored_manifests("team/app"), before);

    // An index given as a child is refused too.
    let (ok, stdout, stderr) = push_index(
        home.path(),
        &reg.repo("team/app"),
        &[],
        &[format!("{amd}@linux/amd64")],
    );
    assert!(ok, "{stderr}");
    let index: Value = serde_json::from_str(&stdout).unwrap();
    let (ok, _, stderr) = push_index(
        home.path(),
        &reg.repo("team/app"),
        &["x"],
        &[format!("{}@linux/amd64", index["digest"].as_str().unwrap())],
    );
    assert!(!ok);
    assert!(stderr.contains("is itself an index"), "{stderr}");
}

#[test]
fn bad_arguments_are_refused_before_any_request() {
    let home = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 of loopback; a request would fail differently.
    let cases: [(&[&str], &str); 5] = [
        (&["sha256:abc@linux/amd64"], "invalid digest"),
        (&["sha256:0000000000000000000000000000000000000000000000000000000000000000"], "expected DIGEST@PLATFORM"),
        (&["sha256:0000000000000000000000000000000000000000000000000000000000000000@linux/mips"], "unknown platform"),
        (&[
            "sha256:0000000000000000000000000000000000000000000000000000000000000000@linux/amd64",
            "sha256:1111111111111111111111111111111111111111111111111111111111111111@linux/amd64",
        ], "linux/amd64 is given twice"),
        (&["--tag", "no/slashes", "sha256:0000000000000000000000000000000000000000000000000000000000000000@linux/amd64"], "invalid tag"),
    ];
    for (args, needle) in cases {
        let (ok, _, stderr) = run(ship_in(home.path())
            .args(["push-index", "--to", "127.0.0.1:9/team/app"])
            .args(args));
        assert!(!ok, "{args:?}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let (ok, _, stderr) = run(ship_in(home.path())
        .args(["push-index", "--to", "ghcr.io/o/n:latest", "--tag", "x"])
        .arg(
            "sha256:0000000000000000000000000000000000000000000000000000000000000000@linux/amd64",
        ));
    assert!(!ok);
    assert!(stderr.contains("without :tag"), "{stderr}");
}

#[test]
fn a_refused_tag_is_reported_with_the_tags_that_point_and_those_that_do_not() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let (amd, arm) = two_platforms(&reg, home.path(), home.path());
    let proxy = support::proxy::FaultProxy::start(reg.addr(), |req| {
        if req.method == "PUT" && req.path.ends_with("/manifests/beta") {
            return support::proxy::Action::Respond(403, vec![]);
        }
        support::proxy::Action::Forward
    });
    let repo = format!("{}/team/app", proxy.addr());
    let children = [format!("{amd}@linux/amd64"), format!("{arm}@linux/arm64")];

    let (ok, stdout, stderr) =
        push_index(home.path(), &repo, &["alpha", "beta", "gamma"], &children);
    assert!(!ok, "{stdout}");
    let json: Value = serde_json::from_str(&stdout).expect("JSON even on failure");
    let status = |i: usize| json["tags"][i]["status"].as_str().unwrap().to_owned();
    assert_eq!(
        (status(0), status(1), status(2)),
        ("created".into(), "failed".into(), "created".into()),
        "{json}"
    );
    assert!(
        json["tags"][1]["error"]
            .as_str()
            .unwrap()
            .contains("403 Forbidden"),
        "{json}"
    );
    assert!(
        stderr.contains("1 of 3 tags do not point at it (beta: 403 Forbidden"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tags that point at it: alpha, gamma"),
        "{stderr}"
    );
    assert_eq!(
        reg.stored_tags("team/app"),
        vec!["alpha".to_owned(), "gamma".to_owned()]
    );

    // Text output says the same per tag.
    let (ok, _, stderr) = run(ship_in(home.path())
        .arg("push-index")
        .args(["--to", &repo, "--tag", "beta"])
        .args(&children));
    assert!(!ok);
    assert!(
        stderr.contains("tag beta: NOT applied (does not point at this index): 403 Forbidden"),
        "{stderr}"
    );
}

#[test]
fn no_tag_says_untagged_and_a_dash_tag_is_a_value_not_a_flag() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let (amd, _) = two_platforms(&reg, home.path(), home.path());
    let repo = reg.repo("team/app");
    let child = format!("{amd}@linux/amd64");

    let (ok, _, stderr) = run(ship_in(home.path())
        .arg("push-index")
        .args(["--to", &repo, "--tag", "-x", &child]));
    assert!(!ok);
    assert!(stderr.contains("invalid tag \"-x\""), "{stderr}");

    let (ok, _, stderr) = run(ship_in(home.path())
        .arg("push-index")
        .args(["--to", &repo, &child]));
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("no --tag given: the index is published untagged"),
        "{stderr}"
    );
    assert!(reg.stored_tags("team/app").is_empty());
}

/// The index stored under `digest` has that digest, lists the amd64 and arm64 children in
/// that order with their real sizes, and every tag of the release resolves to it.
fn assert_stored_index(reg: &Registry, repo: &str, digest: &str, [amd, arm]: [&str; 2]) {
    let raw = reg.inspect_raw(&format!("{repo}@{digest}"), None);
    println!("skopeo inspect --raw {repo}@{digest}:\n{raw}");
    assert_eq!(ship::oci::Digest::of(raw.as_bytes()).as_str(), digest);
    let index: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(index["schemaVersion"], 2);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (
            entries[0]["digest"].as_str().unwrap(),
            entries[0]["platform"]["architecture"].as_str().unwrap()
        ),
        (amd, "amd64")
    );
    assert_eq!(
        (
            entries[1]["digest"].as_str().unwrap(),
            entries[1]["platform"]["architecture"].as_str().unwrap()
        ),
        (arm, "arm64")
    );
    for e in entries {
        assert_eq!(e["platform"]["os"], "linux");
        assert_eq!(e["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        // The size in the index is the child's real size.
        let child = reg.inspect_raw(&format!("{repo}@{}", e["digest"].as_str().unwrap()), None);
        assert_eq!(e["size"].as_u64().unwrap(), child.len() as u64);
    }

    // Every tag resolves to the index.
    for tag in ["1.2.3", "1.2", "latest"] {
        assert_eq!(
            reg.inspect_raw(&format!("{repo}:{tag}"), None),
            raw,
            "{tag}"
        );
    }
    assert_eq!(reg.stored_tags("team/app"), vec!["1.2", "1.2.3", "latest"]);
}
