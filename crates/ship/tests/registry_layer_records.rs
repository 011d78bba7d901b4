//! Layer records against a real Distribution registry: a re-push from a client with no local
//! state compresses and sends no layer the registry has; a record whose blob the registry
//! lost, or that names a blob of another size, is not trusted; images that share a layer
//! share its record; `--mount-from` uses the source's records; a registry that refuses
//! records still gets a complete image.

use ship_test_support as support;

use serde_json::Value;
use support::image::{write_archive, write_stream_script, ImageSpec, Layer};
use support::proxy::{Action, FaultProxy};
use support::registry::Registry;
use support::{fresh_home, push_image_json as push, run, ship_in};

fn layers(report: &Value) -> Vec<&Value> {
    report["blobs"]
        .as_array()
        .expect("blobs")
        .iter()
        .filter(|b| b["kind"] == "layer")
        .collect()
}

/// Each layer's `resolution`.
fn resolutions(report: &Value) -> Vec<&str> {
    layers(report)
        .iter()
        .map(|b| b["resolution"].as_str().expect("resolution"))
        .collect()
}

/// A blob upload of any kind: POST to open one (or mount), PATCH a chunk, PUT the bytes.
fn is_upload(seen: &str) -> bool {
    seen.contains("/blobs/uploads/")
}

/// The manifest of `digest` in `repo_path`, fetched, and every blob it names HEAD-checked.
fn assert_complete(reg: &Registry, repo_path: &str, digest: &str) -> Value {
    let (status, body) = reg.api(
        "GET",
        &format!("/v2/{repo_path}/manifests/{digest}"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let manifest: Value = serde_json::from_slice(&body).expect("manifest JSON");
    let blobs = std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap());
    for blob in blobs {
        let digest = blob["digest"].as_str().unwrap();
        let (status, _) = reg.api("HEAD", &format!("/v2/{repo_path}/blobs/{digest}"), "*/*");
        assert_eq!(
            status, 200,
            "{digest} named by the manifest is not in the registry"
        );
    }
    manifest
}

/// A registry with the demo image (`seed` for its app layer) pushed once to team/app from a
/// fresh client: the registry, the archive (written in `dir`) and that push's report.
fn pushed_once(dir: &std::path::Path, seed: u64) -> (Registry, std::path::PathBuf, Value) {
    let reg = Registry::start();
    let archive = write_archive(dir, "image.tar", &ImageSpec::demo("amd64", seed));
    let first = push(fresh_home().path(), &archive, &reg.repo("team/app"), &[]);
    (reg, archive, first)
}

#[test]
fn identical_repush_from_a_fresh_client_compresses_and_sends_no_layer() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = ImageSpec::demo("amd64", 1);
    let archive = write_archive(dir.path(), "image.tar", &spec);
    let script = write_stream_script(dir.path(), "stream-image", &spec);

    let first = push(fresh_home().path(), &archive, &reg.repo("team/app"), &[]);
    assert_eq!(resolutions(&first), ["uploaded"; 3], "{first}");
    assert_eq!(first["layers_compressed"], 3);
    assert_eq!(first["records_written"], 3);
    assert_eq!(reg.stored_layer_records("team/app").len(), 3);
    for layer in layers(&first) {
        assert_eq!(layer["compressed"], true);
        assert_eq!(layer["record"], "written");
        let tag = format!(
            "sha256-{}.ship-layer",
            layer["diff_id"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        );
        assert!(reg.stored_layer_records("team/app").contains(&tag), "{tag}");
    }

    // Again, from clients with no local state, as the docker-archive and as the stream
    // script, through a proxy that sees every request.
    let proxy = FaultProxy::start(reg.addr(), |_| Action::Forward);
    let via_proxy = format!("{}/team/app", proxy.addr());
    for input in [&archive, &script] {
        let again = push(fresh_home().path(), input, &via_proxy, &[]);
        assert_eq!(
            again["manifest_digest"], first["manifest_digest"],
            "{again}"
        );
        assert_eq!(resolutions(&again), ["recorded"; 3], "{again}");
        assert_eq!(again["layers_compressed"], 0, "{again}");
        assert_eq!(again["layers_recorded"], 3);
        assert_eq!(again["layers_uploaded"], 0);
        assert_eq!(again["records_written"], 0);
        assert_eq!(again["bytes_uploaded"], 0);
        for layer in layers(&again) {
            assert_eq!(layer["compressed"], false);
            assert_eq!(layer["record"], "kept");
        }
    }
    let seen = proxy.seen();
    let uploads: Vec<&String> = seen.iter().filter(|s| is_upload(s)).collect();
    assert!(uploads.is_empty(), "uploads on a re-push: {uploads:#?}");
    assert!(
        seen.iter().any(|s| s.contains(".ship-layer")),
        "the records were not read: {seen:#?}"
    );
    assert_complete(&reg, "team/app", first["manifest_digest"].as_str().unwrap());
}

#[test]
fn a_record_whose_blob_the_registry_lost_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, archive, first) = pushed_once(dir.path(), 7);
    let lost = layers(&first)[1]["digest"].as_str().unwrap().to_owned();

    // The registry loses the blob; the record that names it stays.
    let (status, _) = reg.api("DELETE", &format!("/v2/team/app/blobs/{lost}"), "*/*");
    assert_eq!(status, 202, "the test registry allows deletes");
    let (status, _) = reg.api("HEAD", &format!("/v2/team/app/blobs/{lost}"), "*/*");
    assert_eq!(status, 404);
    assert_eq!(reg.stored_layer_records("team/app").len(), 3);

    let again = push(fresh_home().path(), &archive, &reg.repo("team/app"), &[]);
    assert_eq!(again["manifest_digest"], first["manifest_digest"]);
    assert_eq!(
        resolutions(&again),
        ["recorded", "uploaded", "recorded"],
        "{again}"
    );
    let layer = layers(&again)[1];
    assert_eq!(layer["digest"], lost.as_str());
    assert_eq!(layer["compressed"], true);
    assert_eq!(layer["record"], "written");
    assert_eq!(again["layers_compressed"], 1);
    assert_complete(&reg, "team/app", again["manifest_digest"].as_str().unwrap());

    // And the rewritten record serves the next push.
    let third = push(fresh_home().path(), &archive, &reg.repo("team/app"), &[]);
    assert_eq!(resolutions(&third), ["recorded"; 3], "{third}");
}

#[test]
fn a_record_that_names_a_blob_of_another_size_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, archive, first) = pushed_once(dir.path(), 9);
    let (first_layer, other) = (layers(&first)[0], layers(&first)[1]);

    // The first layer's record rewritten to name the second layer's blob (which the
    // repository has) with the first one's size.
    let diff_id = first_layer["diff_id"].as_str().unwrap();
    let tag = format!(
        "sha256-{}.ship-layer",
        diff_id.trim_start_matches("sha256:")
    );
    let path = format!("/v2/team/app/manifests/{tag}");
    let media_type = "application/vnd.oci.image.manifest.v1+json";
    let (status, body) = reg.api("GET", &path, media_type);
    assert_eq!(status, 200);
    let mut record: Value = serde_json::from_slice(&body).unwrap();
    record["layers"][0]["digest"] = other["digest"].clone();
    let wrong = serde_json::to_vec(&record).unwrap();
    let (status, body) = reg.api_put(&path, media_type, &wrong);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));

    let again = push(fresh_home().path(), &archive, &reg.repo("team/app"), &[]);
    assert_eq!(again["manifest_digest"], first["manifest_digest"]);
    assert_eq!(
        resolutions(&again),
        ["present", "recorded", "recorded"],
        "{again}"
    );
    assert_eq!(layers(&again)[0]["record"], "written");
    assert_complete(&reg, "team/app", again["manifest_digest"].as_str().unwrap());
    let (_, body) = reg.api("GET", &path, media_type);
    let rewritten: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(rewritten["layers"][0]["digest"], first_layer["digest"]);
}

#[test]
fn images_sharing_a_layer_share_its_record_and_mounts_use_the_source_records() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let app = write_archive(dir.path(), "app.tar", &ImageSpec::demo("amd64", 3));
    // Another image on the same two library layers, with its own top layer.
    let mut other_spec = ImageSpec::demo("amd64", 3);
    other_spec.layers[2] = Layer::new("worker-0.1.0", 90 * 1024, 11);
    let other = write_archive(dir.path(), "other.tar", &other_spec);

    let first = push(fresh_home().path(), &app, &reg.repo("team/app"), &[]);
    let second = push(fresh_home().path(), &other, &reg.repo("team/app"), &[]);
    assert_eq!(
        resolutions(&second),
        ["recorded", "recorded", "uploaded"],
        "{second}"
    );
    assert_eq!(second["layers_compressed"], 1);
    assert_eq!(layers(&second)[0]["digest"], layers(&first)[0]["digest"]);
    assert_eq!(reg.stored_layer_records("team/app").len(), 4);
    assert_complete(
        &reg,
        "team/app",
        second["manifest_digest"].as_str().unwrap(),
    );

    // Promoted to another repository: the source's records name the blobs, which are
    // mounted, not compressed; the target gets records of its own.
    let promoted = push(
        fresh_home().path(),
        &app,
        &reg.repo("prod/app"),
        &["--mount-from", &reg.repo("team/app")],
    );
    assert_eq!(promoted["manifest_digest"], first["manifest_digest"]);
    assert_eq!(resolutions(&promoted), ["mounted"; 3], "{promoted}");
    assert_eq!(promoted["layers_compressed"], 0);
    assert_eq!(promoted["records_written"], 3);
    assert_eq!(reg.stored_layer_records("prod/app").len(), 3);
    assert_complete(
        &reg,
        "prod/app",
        promoted["manifest_digest"].as_str().unwrap(),
    );
}

#[test]
fn a_registry_that_refuses_records_still_gets_the_image() {
    let reg = Registry::start();
    let refuse = |method: &str, path: &str| path.contains(".ship-layer") && method != "HEAD";
    let proxy = FaultProxy::start(reg.addr(), move |req| {
        if refuse(&req.method, &req.path) {
            return Action::Respond(403, vec![]);
        }
        Action::Forward
    });
    let dir = tempfile::tempdir().unwrap();
    let archive = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 5));
    let repo = format!("{}/team/app", proxy.addr());
    let pushed = push(fresh_home().path(), &archive, &repo, &[]);
    assert_eq!(resolutions(&pushed), ["uploaded"; 3], "{pushed}");
    assert_eq!(pushed["records_failed"], 3);
    for layer in layers(&pushed) {
        assert_eq!(layer["record"], "failed");
        assert!(
            layer["record_error"].as_str().unwrap().contains("403"),
            "{layer}"
        );
    }
    assert!(reg.stored_layer_records("team/app").is_empty());
    assert_complete(
        &reg,
        "team/app",
        pushed["manifest_digest"].as_str().unwrap(),
    );

    // Without records a re-push compresses again, and still sends nothing.
    let again = push(fresh_home().path(), &archive, &repo, &[]);
    assert_eq!(resolutions(&again), ["present"; 3], "{again}");
    assert_eq!(again["layers_compressed"], 3);
    assert_eq!(again["bytes_uploaded"], 0);

    // People see it in the summary.
    let (ok, _, stderr) = run(ship_in(fresh_home().path())
        .arg("push-image")
        .arg(&archive)
        .args(["--to", &repo]));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("3 layer records not kept"), "{stderr}");
}
