//! Failures in transit, injected by a proxy in front of a real registry: transient statuses
//! are retried (Retry-After honoured), persistent ones give up with an error naming the step,
//! and a registry killed in the middle of an upload stops the push with nothing published.

use ship_test_support as support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;
use support::image::{write_archive, ImageSpec};
use support::proxy::{Action, FaultProxy};
use support::registry::Registry;
use support::{run, run_json, ship_in};

fn is_blob_put(method: &str, path: &str) -> bool {
    method == "PUT" && path.contains("/blobs/uploads/")
}

#[test]
fn transient_statuses_are_retried_and_the_push_completes() {
    let reg = Registry::start();
    let (mut put_blob, mut head_blob, mut put_manifest) = (0, 0, 0);
    let proxy = FaultProxy::start(reg.addr(), move |req| {
        if is_blob_put(&req.method, &req.path) {
            put_blob += 1;
            if put_blob == 2 {
                return Action::Respond(503, vec![]);
            }
        }
        if req.method == "HEAD" && req.path.contains("/blobs/") {
            head_blob += 1;
            if head_blob == 1 {
                return Action::Respond(502, vec![]);
            }
        }
        if req.method == "PUT" && req.path.contains("/manifests/") {
            put_manifest += 1;
            if put_manifest == 1 {
                return Action::Respond(429, vec![("Retry-After".into(), "1".into())]);
            }
        }
        Action::Forward
    });
    let dir = tempfile::tempdir().unwrap();
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 41));
    let repo = format!("{}/team/app", proxy.addr());
    let pushed = run_json(
        ship_in(dir.path())
            .arg("push-image")
            .arg(&image)
            .args(["--to", &repo, "--format", "json"]),
    );
    let seen = proxy.seen();
    for fault in ["injected 502", "injected 503", "injected 429"] {
        assert!(
            seen.iter().any(|s| s.ends_with(fault)),
            "{fault} not served: {seen:#?}"
        );
    }
    assert_eq!(pushed["retries"], 3, "{pushed}");
    assert_eq!(pushed["layers_uploaded"], 3);
    let digest = pushed["manifest_digest"].as_str().unwrap();
    assert_eq!(reg.stored_manifests("team/app"), vec![digest.to_owned()]);

    // Every blob arrived whole: a direct re-push finds them all.
    let again = run_json(ship_in(dir.path()).arg("push-image").arg(&image).args([
        "--to",
        &reg.repo("team/app"),
        "--format",
        "json",
    ]));
    assert_eq!(again["bytes_uploaded"], 0, "{again}");
    assert_eq!(again["manifest_digest"], pushed["manifest_digest"]);
}

#[test]
fn a_persistent_server_error_gives_up_naming_the_step() {
    let reg = Registry::start();
    let manifest_puts = Arc::new(AtomicUsize::new(0));
    let counter = manifest_puts.clone();
    let proxy = FaultProxy::start(reg.addr(), move |req| {
        if req.method == "PUT" && req.path.contains("/manifests/") {
            // Layer records are written before the image manifest; refused too, they only
            // leave the push without records.
            if !req.path.contains(".ship-layer") {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            return Action::Respond(500, vec![]);
        }
        Action::Forward
    });
    let dir = tempfile::tempdir().unwrap();
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 42));
    let repo = format!("{}/team/app", proxy.addr());
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(&image)
        .args(["--to", &repo]));
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&format!("ship: {repo}: pushing manifest sha256:")),
        "{stderr}"
    );
    assert!(stderr.contains("500 Internal Server Error"), "{stderr}");
    assert!(stderr.contains("gave up after 5 attempts"), "{stderr}");
    assert_eq!(manifest_puts.load(Ordering::SeqCst), 5);
    assert!(reg.stored_manifests("team/app").is_empty());
}

#[test]
fn registry_killed_mid_upload_fails_clearly_and_publishes_nothing() {
    let mut reg = Registry::start();
    let killer = reg.kill_handle();
    let mut killer = Some(killer);
    let proxy = FaultProxy::start(reg.addr(), move |req| {
        // The first layer upload (the config and the layer records' empty config are small).
        if is_blob_put(&req.method, &req.path) && req.content_length > 64 * 1024 {
            if let Some(k) = killer.take() {
                return Action::CutAfter(64 * 1024, Box::new(move || k.kill()));
            }
        }
        Action::Forward
    });
    let dir = tempfile::tempdir().unwrap();
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 43));
    let repo = format!("{}/team/app", proxy.addr());
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(&image)
        .args(["--to", &repo, "--format", "json"]));
    println!("ship's stderr after the registry died:\n{stderr}");
    assert!(!ok, "{stdout}");
    assert!(stdout.is_empty(), "{stdout}");
    // Layers go up in parallel: whichever request gives up first is reported.
    assert!(
        ["uploading", "checking"]
            .iter()
            .any(|step| stderr.contains(&format!("ship: {repo}: {step} layer sha256:"))),
        "{stderr}"
    );
    assert!(stderr.contains("connection failed"), "{stderr}");
    assert!(stderr.contains("gave up after 5 attempts"), "{stderr}");
    let seen = proxy.seen();
    assert!(
        seen.iter()
            .any(|s| s.contains("cut after 65536 body bytes")),
        "{seen:#?}"
    );

    // Back up on the same storage: no manifest, no tag.
    reg.restart();
    assert_eq!(reg.stored_manifests("team/app"), Vec::<String>::new());
    assert_eq!(reg.stored_tags("team/app"), Vec::<String>::new());
    // And the same push now completes, from where it stopped (the config is already there).
    let done: Value = run_json(ship_in(dir.path()).arg("push-image").arg(&image).args([
        "--to",
        &reg.repo("team/app"),
        "--format",
        "json",
    ]));
    assert_eq!(done["blobs"][0]["uploaded"], false, "{done}");
    assert_eq!(done["layers_uploaded"], 3);
}
