//! Blob uploads against registries that are not the Distribution registry, imitated by a
//! proxy in front of one: a 413 for large bodies (Cloudflare-like), ghcr.io's 4 MiB limit on
//! chunks, ECR's 201 after the first chunk, relative and other-host upload Locations; and
//! cross-repository mounts.

use ship_test_support as support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use support::image::{write_archive, ImageSpec, Layer};
use support::proxy::{Action, FaultProxy, RequestHead};
use support::registry::Registry;
use support::{push_image_json as push, ship_in};

/// The pushed blobs are whole: a direct push of the same image finds every one.
fn assert_all_present(home: &Path, image: &Path, reg: &Registry, pushed: &Value) {
    let again = push(home, image, &reg.repo("team/app"), &[]);
    assert_eq!(again["bytes_uploaded"], 0, "{again}");
    assert_eq!(again["manifest_digest"], pushed["manifest_digest"]);
}

fn is_patch(req: &RequestHead) -> bool {
    req.method == "PATCH" && req.path.contains("/blobs/uploads/")
}

/// Lengths of the PATCH bodies the proxy saw.
type Patches = Arc<Mutex<Vec<u64>>>;

#[test]
fn a_413_for_a_large_body_switches_to_chunks() {
    let reg = Registry::start();
    let patches: Patches = Arc::default();
    let seen_patches = patches.clone();
    let proxy = FaultProxy::start(reg.addr(), move |req| {
        if req.method == "PUT" && req.content_length > 64 * 1024 {
            return Action::Respond(413, vec![]);
        }
        if is_patch(req) {
            seen_patches.lock().unwrap().push(req.content_length);
        }
        Action::Forward
    });
    let home = tempfile::tempdir().unwrap();
    let image = write_archive(home.path(), "image.tar", &ImageSpec::demo("amd64", 80));
    let pushed = push(
        home.path(),
        &image,
        &format!("{}/team/app", proxy.addr()),
        &[],
    );
    assert_eq!(pushed["layers_uploaded"], 3, "{pushed}");
    assert!(
        proxy.seen().iter().any(|s| s.ends_with("injected 413")),
        "{:#?}",
        proxy.seen()
    );
    // Layers go up in parallel, so each in flight may meet one 413; none meets two.
    let refused = proxy
        .seen()
        .iter()
        .filter(|s| s.ends_with("injected 413"))
        .count();
    assert!((1..=3).contains(&refused), "{:#?}", proxy.seen());
    assert_eq!(patches.lock().unwrap().len(), 3, "{:?}", patches.lock());
    assert_all_present(home.path(), &image, &reg, &pushed);
}

#[test]
fn ghcr_like_limits_get_chunks_of_at_most_4_mib() {
    let reg = Registry::start();
    let patches: Patches = Arc::default();
    let seen_patches = patches.clone();
    let proxy = FaultProxy::start(reg.addr(), move |req| {
        if is_patch(req) {
            seen_patches.lock().unwrap().push(req.content_length);
            if req.content_length > 4 << 20 {
                return Action::Respond(416, vec![]);
            }
        }
        if req.method == "PUT" && req.content_length > 4 << 20 {
            return Action::Respond(413, vec![]);
        }
        Action::Forward
    });
    let home = tempfile::tempdir().unwrap();
    let mut spec = ImageSpec::demo("amd64", 81);
    spec.layers.push(Layer::new("big-data", 18 << 20, 1081));
    let image = write_archive(home.path(), "big.tar", &spec);
    let pushed = push(
        home.path(),
        &image,
        &format!("{}/team/app", proxy.addr()),
        &[],
    );
    assert_eq!(pushed["layers_uploaded"], 4, "{pushed}");
    let patches = patches.lock().unwrap().clone();
    assert!(patches.iter().all(|&n| n <= 4 << 20), "{patches:?}");
    // 18 MiB and a little (gzip of incompressible bytes) in 4 MiB chunks.
    assert_eq!(
        patches.iter().filter(|&&n| n == 4 << 20).count(),
        4,
        "{patches:?}"
    );
    assert_all_present(home.path(), &image, &reg, &pushed);
}

#[test]
fn configured_chunks_survive_ecr_201_and_relative_and_other_host_locations() {
    let reg = Registry::start();
    // A second way in to the same registry: a Location on another host:port.
    let other = FaultProxy::start(reg.addr(), |_| Action::Forward);
    let other_addr = other.addr().to_owned();
    let (mut posts, mut patches) = (0, 0);
    let proxy = FaultProxy::start(reg.addr(), move |req| {
        if req.method == "POST" && req.path.contains("/blobs/uploads/") {
            posts += 1;
            let other_addr = other_addr.clone();
            let n = posts;
            // Relative Locations for some uploads, another host's for others.
            return Action::EditAnswer(Box::new(move |head| {
                head.lines()
                    .map(|line| match line.split_once(": ") {
                        Some((k, v)) if k.eq_ignore_ascii_case("location") => {
                            let path = &v[v.find("/v2/").unwrap_or(0)..];
                            if n % 2 == 0 {
                                format!("{k}: {path}")
                            } else {
                                format!("{k}: http://{other_addr}{path}")
                            }
                        }
                        _ => line.to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join("\r\n")
            }));
        }
        if is_patch(req) {
            patches += 1;
            if patches == 1 {
                // ECR: 201 Created for the first chunk.
                return Action::EditAnswer(Box::new(|head| {
                    head.replacen("HTTP/1.1 202 Accepted", "HTTP/1.1 201 Created", 1)
                }));
            }
        }
        Action::Forward
    });
    let home = tempfile::tempdir().unwrap();
    let image = write_archive(home.path(), "image.tar", &ImageSpec::demo("amd64", 82));
    let pushed = push(
        home.path(),
        &image,
        &format!("{}/team/app", proxy.addr()),
        &["--chunk-size", "64KiB"],
    );
    assert_eq!(pushed["layers_uploaded"], 3, "{pushed}");
    assert!(
        proxy
            .seen()
            .iter()
            .any(|s| s.starts_with("PATCH") && s.ends_with("(answer edited)")),
        "{:#?}",
        proxy.seen()
    );
    assert!(
        other.seen().iter().any(|s| s.starts_with("PATCH")),
        "no chunk went to the other host: {:#?}",
        other.seen()
    );
    assert_all_present(home.path(), &image, &reg, &pushed);
}

#[test]
fn blobs_in_another_repository_are_mounted_not_uploaded() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let image = write_archive(home.path(), "image.tar", &ImageSpec::demo("amd64", 83));
    let base = push(home.path(), &image, &reg.repo("team/base"), &[]);
    assert_eq!(base["layers_uploaded"], 3);

    let proxy = FaultProxy::start(reg.addr(), |_| Action::Forward);
    let from = format!("{}/team/base", proxy.addr());
    let empty = format!("{}/team/empty", proxy.addr());
    let pushed = push(
        home.path(),
        &image,
        &format!("{}/team/app", proxy.addr()),
        &["--mount-from", &empty, "--mount-from", &from],
    );
    assert_eq!(pushed["bytes_uploaded"], 0, "{pushed}");
    for blob in pushed["blobs"].as_array().unwrap() {
        assert_eq!(blob["uploaded"], false, "{pushed}");
        assert_eq!(blob["mounted_from"], from.as_str(), "{pushed}");
    }
    let seen = proxy.seen();
    assert!(
        seen.iter()
            .any(|s| s.contains("?mount=sha256%3A") && s.contains("from=team%2Fbase")),
        "{seen:#?}"
    );
    assert!(
        !seen
            .iter()
            .any(|s| s.starts_with("PUT") && s.contains("/blobs/")),
        "{seen:#?}"
    );
    assert_eq!(
        reg.stored_manifests("team/app"),
        vec![pushed["manifest_digest"].as_str().unwrap().to_owned()]
    );

    // Another registry's repository cannot be mounted from: refused before any request.
    let (ok, _, stderr) = support::run(ship_in(home.path()).arg("push-image").arg(&image).args([
        "--to",
        &reg.repo("team/app"),
        "--mount-from",
        "ghcr.io/o/n",
    ]));
    assert!(!ok);
    assert!(
        stderr.contains("blobs mount only within one registry"),
        "{stderr}"
    );
}
