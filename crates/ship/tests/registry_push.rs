//! `ship push-image` against a real Distribution registry on loopback: byte counts of first
//! pushes and re-pushes, determinism across fresh clients, every input format, corrupt input,
//! and skopeo reading back what was pushed.

use ship_test_support as support;

use serde_json::Value;
use support::image::{expected_layer_blob, write_archive, write_stream_script, ImageSpec};
use support::registry::{parse_listen_addr, Registry};
use support::{fresh_home, push_image_json as push, require_tool, run, ship_in};

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn config_size(v: &Value) -> u64 {
    let config = &v["blobs"][0];
    assert_eq!(config["kind"], "config", "{v}");
    u64_of(config, "size")
}

#[test]
fn first_push_then_one_layer_change_uploads_only_that_layer() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let v1 = ImageSpec::demo("amd64", 10);
    let v2 = ImageSpec::demo("amd64", 11);
    let v1_path = write_archive(dir.path(), "v1.tar", &v1);
    let v2_path = write_archive(dir.path(), "v2.tar", &v2);
    let repo = reg.repo("team/app");

    let first = push(fresh_home().path(), &v1_path, &repo, &[]);
    let blobs: Vec<(String, u64)> = v1
        .layers
        .iter()
        .map(expected_layer_blob)
        .map(|(d, s)| (d.to_string(), s))
        .collect();
    let layer_bytes: u64 = blobs.iter().map(|(_, s)| s).sum();
    assert_eq!(u64_of(&first, "layers"), 3);
    assert_eq!(u64_of(&first, "layers_uploaded"), 3);
    assert_eq!(u64_of(&first, "layers_skipped"), 0);
    assert_eq!(u64_of(&first, "bytes_skipped"), 0);
    assert_eq!(
        u64_of(&first, "bytes_uploaded"),
        layer_bytes + config_size(&first)
    );
    for (i, (digest, size)) in blobs.iter().enumerate() {
        let b = &first["blobs"][i + 1];
        assert_eq!(
            (str_of(b, "digest"), u64_of(b, "size")),
            (digest.as_str(), *size)
        );
        assert_eq!(b["uploaded"], true);
    }

    // A source-only change: only the app layer differs, so only it (and the config, whose
    // diff_ids changed) is sent, even from a machine that never pushed before.
    let second = push(fresh_home().path(), &v2_path, &repo, &[]);
    let (app_digest, app_size) = expected_layer_blob(&v2.layers[2]);
    assert_eq!(u64_of(&second, "layers_uploaded"), 1);
    assert_eq!(u64_of(&second, "layers_skipped"), 2);
    assert_eq!(
        u64_of(&second, "bytes_uploaded"),
        app_size + config_size(&second)
    );
    assert_eq!(u64_of(&second, "bytes_skipped"), blobs[0].1 + blobs[1].1);
    assert_eq!(str_of(&second["blobs"][3], "digest"), app_digest.as_str());
    assert_eq!(second["blobs"][3]["uploaded"], true);
    assert_ne!(first["manifest_digest"], second["manifest_digest"]);

    // Both manifests are stored by digest; push-image writes no tag.
    let stored = reg.stored_manifests("team/app");
    assert!(
        stored.contains(&str_of(&first, "manifest_digest").to_owned()),
        "{stored:?}"
    );
    assert!(
        stored.contains(&str_of(&second, "manifest_digest").to_owned()),
        "{stored:?}"
    );
    assert_eq!(reg.stored_tags("team/app"), Vec::<String>::new());
}

#[test]
fn identical_repush_uploads_nothing_and_fresh_clients_agree_on_digests() {
    let reg = Registry::start();
    let other = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 5));

    let first = push(fresh_home().path(), &image, &reg.repo("a/b"), &[]);
    let again = push(fresh_home().path(), &image, &reg.repo("a/b"), &[]);
    assert_eq!(u64_of(&again, "layers_uploaded"), 0);
    assert_eq!(u64_of(&again, "bytes_uploaded"), 0);
    assert_eq!(
        u64_of(&again, "bytes_skipped"),
        u64_of(&first, "bytes_uploaded")
    );
    assert!(again["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["uploaded"] == false));
    assert_eq!(first["manifest_digest"], again["manifest_digest"]);
    assert_eq!(first["config_digest"], again["config_digest"]);

    // Another registry, another fresh client: byte-identical image.
    let elsewhere = push(fresh_home().path(), &image, &other.repo("x/y"), &[]);
    assert_eq!(u64_of(&elsewhere, "layers_uploaded"), 3);
    assert_eq!(first["manifest_digest"], elsewhere["manifest_digest"]);
    assert_eq!(first["blobs"], elsewhere["blobs"]);
}

#[test]
fn compressed_archives_and_stream_scripts_push_the_same_image() {
    let zstd = require_tool(&["zstd"], "zstd");
    let xz = require_tool(&["xz"], "xz-utils");
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = ImageSpec::demo("arm64", 3);
    let plain = write_archive(dir.path(), "image.tar", &spec);
    let repo = reg.repo("formats/app");
    let reference = push(fresh_home().path(), &plain, &repo, &[]);

    // gzip (as buildLayeredImage writes), zstd, xz; names deliberately not telling.
    let gz = dir.path().join("image-gz");
    {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&std::fs::read(&plain).unwrap()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    }
    let zst = dir.path().join("image.tar.zst");
    let (ok, _, err) = run(std::process::Command::new(zstd)
        .arg("-q")
        .arg("-o")
        .arg(&zst)
        .arg(&plain));
    assert!(ok, "zstd: {err}");
    let xz_out = dir.path().join("image.tar.xz");
    let (ok, _, err) = run(std::process::Command::new(xz).arg("-k").arg(&plain));
    assert!(ok, "xz: {err}");
    assert!(xz_out.is_file());
    let script = write_stream_script(dir.path(), "stream-demo-service", &spec);

    for input in [&gz, &zst, &xz_out, &script] {
        let pushed = push(fresh_home().path(), input, &repo, &[]);
        assert_eq!(
            pushed["manifest_digest"],
            reference["manifest_digest"],
            "{}",
            input.display()
        );
        assert_eq!(pushed["platform"], "linux/arm64");
        assert_eq!(u64_of(&pushed, "bytes_uploaded"), 0, "{}", input.display());
    }
}

#[test]
fn stream_script_that_fails_is_reported_with_its_stderr() {
    use std::os::unix::fs::PermissionsExt;
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("stream-broken");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'Creating layer 1' >&2\necho 'python: store path missing' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = fresh_home();
    let (ok, stdout, stderr) = run(ship_in(home.path())
        .arg("push-image")
        .arg(&script)
        .args(["--to", &reg.repo("s/t")]));
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains(&script.display().to_string()), "{stderr}");
    assert!(stderr.contains("the image script failed"), "{stderr}");
    assert!(stderr.contains("python: store path missing"), "{stderr}");
}

#[test]
fn corrupt_archives_are_refused_naming_the_file() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(write_archive(
        dir.path(),
        "good.tar",
        &ImageSpec::demo("amd64", 1),
    ))
    .unwrap();

    let truncated = dir.path().join("truncated.tar");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    // A byte flipped inside the first layer's file data: the tar still reads, the layer's
    // sha256 no longer matches the config's diff_ids.
    let flipped = dir.path().join("flipped.tar");
    let mut bytes = good.clone();
    bytes[6 * 512 + 1000] ^= 0xff;
    std::fs::write(&flipped, &bytes).unwrap();
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"this is not an image at all").unwrap();
    let bad_gzip = dir.path().join("bad.tar.gz");
    std::fs::write(&bad_gzip, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4]).unwrap();
    let missing = dir.path().join("missing.tar");

    let cases = [
        (&truncated, "truncated"),
        (&flipped, "the archive is corrupt"),
        (&junk, "not a docker-archive"),
        (&bad_gzip, "decompressing gzip"),
        (&missing, "No such file"),
    ];
    for (path, needle) in cases {
        let home = fresh_home();
        let (ok, stdout, stderr) = run(ship_in(home.path())
            .arg("push-image")
            .arg(path)
            .args(["--to", &reg.repo("c/d")]));
        assert!(!ok, "{} was accepted", path.display());
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
        assert!(stderr.contains(needle), "{}: {stderr}", path.display());
    }
    assert_eq!(reg.stored_manifests("c/d"), Vec::<String>::new());
}

#[test]
fn platform_flag_must_match_the_image_config() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let arm = write_archive(dir.path(), "arm.tar", &ImageSpec::demo("arm64", 1));
    let home = fresh_home();
    let (ok, _, stderr) = run(ship_in(home.path()).arg("push-image").arg(&arm).args([
        "--to",
        &reg.repo("p/q"),
        "--platform",
        "linux/amd64",
    ]));
    assert!(!ok);
    assert!(stderr.contains("is a linux/arm64 image"), "{stderr}");
    assert!(stderr.contains("--platform says linux/amd64"), "{stderr}");
    assert_eq!(reg.stored_manifests("p/q"), Vec::<String>::new());

    let pushed = push(
        home.path(),
        &arm,
        &reg.repo("p/q"),
        &["--platform", "linux/arm64"],
    );
    assert_eq!(pushed["platform"], "linux/arm64");

    let (ok, _, stderr) = run(ship_in(home.path()).arg("push-image").arg(&arm).args([
        "--to",
        &reg.repo("p/q"),
        "--platform",
        "linux/riscv64",
    ]));
    assert!(!ok);
    assert!(stderr.contains("linux/amd64, linux/arm64"), "{stderr}");
}

#[test]
fn text_output_is_the_digest_on_stdout_and_progress_on_stderr() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 8));
    let home = fresh_home();
    let (ok, stdout, stderr) = run(ship_in(home.path())
        .arg("push-image")
        .arg(&image)
        .args(["--to", &reg.repo("t/u")]));
    assert!(ok, "{stderr}");
    let digest = stdout.trim();
    assert_eq!(stdout, format!("{digest}\n"));
    assert!(ship::oci::Digest::parse(digest).is_ok(), "{stdout}");
    assert!(reg.stored_manifests("t/u").contains(&digest.to_owned()));
    assert!(stderr.contains("3 of 3 layers uploaded"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "pushed {}@{digest} (linux/amd64)",
            reg.repo("t/u")
        )),
        "{stderr}"
    );
}

#[test]
fn skopeo_reads_and_copies_what_ship_pushed() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("arm64", 4));
    let pushed = push(fresh_home().path(), &image, &reg.repo("team/app"), &[]);
    let reference = format!(
        "docker://{}@{}",
        reg.repo("team/app"),
        str_of(&pushed, "manifest_digest")
    );

    let (ok, raw, err) = run(reg
        .skopeo()
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(&reference));
    assert!(ok, "skopeo inspect --raw: {err}");
    let manifest: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 3);
    assert_eq!(
        ship::oci::Digest::of(raw.as_bytes()).as_str(),
        str_of(&pushed, "manifest_digest")
    );

    let (ok, config, err) = run(reg
        .skopeo()
        .args(["inspect", "--config", "--tls-verify=false"])
        .arg(&reference));
    assert!(ok, "skopeo inspect --config: {err}");
    let config: Value = serde_json::from_str(&config).unwrap();
    assert_eq!(
        (config["os"].as_str(), config["architecture"].as_str()),
        (Some("linux"), Some("arm64"))
    );
    assert_eq!(config["config"]["Entrypoint"][0], "/bin/demo-service");

    // A full copy verifies every blob digest and the diff_ids on the way.
    let layout = dir.path().join("layout");
    let (ok, _, err) = run(reg
        .skopeo()
        .args(["--insecure-policy", "copy", "--src-tls-verify=false"])
        .arg(&reference)
        .arg(format!("oci:{}:copied", layout.display())));
    assert!(ok, "skopeo copy: {err}");
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], pushed["manifest_digest"]);
}

#[test]
fn listen_address_is_parsed_from_the_registry_log() {
    let log = "time=\"x\" level=info msg=\"redis not configured\"\ntime=\"y\" level=info msg=\"listening on 127.0.0.1:41234\" go.version=go1.19";
    assert_eq!(parse_listen_addr(log).as_deref(), Some("127.0.0.1:41234"));
    assert_eq!(parse_listen_addr("msg=\"listening on 127.0.0.1:0\""), None);
    assert_eq!(parse_listen_addr("starting"), None);
}
