//! How push-image and push-index talk to people: repository names checked before any network
//! use, each cause said once, and output to a closed pipe never stopping a push.

use ship_test_support as support;

use support::image::{write_archive, ImageSpec};
use support::registry::Registry;
use support::{run, ship_in, tmp_leftovers};

#[test]
fn names_the_spec_forbids_are_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 60));
    // Port 1 on loopback: nothing listens, so any request would fail with "connection".
    for (to, needle) in [
        ("127.0.0.1:1/a..b", "separator `..`"),
        ("127.0.0.1:1/a___b", "separator `___`"),
        ("127.0.0.1:1/a.-b", "separator `.-`"),
        ("127.0.0.1:1/a_-b", "separator `_-`"),
        ("127.0.0.1:1", "the repository path is missing"),
    ] {
        let (ok, stdout, stderr) = run(ship_in(dir.path())
            .arg("push-image")
            .arg(&image)
            .args(["--to", to]));
        assert!(!ok, "{to}: {stdout}");
        assert!(stderr.contains(needle), "{to}: {stderr}");
        assert!(!stderr.contains("connection"), "{to}: {stderr}");
    }
}

#[test]
fn each_cause_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tar");
    let (ok, _, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(&missing)
        .args(["--to", "127.0.0.1:1/team/app"]));
    assert!(!ok);
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );

    // A gzip stream cut short.
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 61));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &std::fs::read(&image).unwrap()).unwrap();
    let gz = gz.finish().unwrap();
    let cut = dir.path().join("cut.tar.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let (ok, _, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(&cut)
        .args(["--to", "127.0.0.1:1/team/app"]));
    assert!(!ok);
    assert!(stderr.contains("decompressing gzip"), "{stderr}");
    let cause = stderr.rsplit(": ").next().unwrap().trim();
    assert_eq!(stderr.matches(cause).count(), 1, "{stderr}");

    // A TMPDIR that does not exist.
    let (ok, _, stderr) = run(ship_in(dir.path())
        .env("TMPDIR", dir.path().join("no-such-dir"))
        .arg("push-image")
        .arg(&image)
        .args(["--to", "127.0.0.1:1/team/app"]));
    assert!(!ok);
    assert!(stderr.contains("temporary directory"), "{stderr}");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_closed_stderr_does_not_stop_the_push() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 62));
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = ship_in(dir.path())
        .arg("push-image")
        .arg(&image)
        .args(["--to", &reg.repo("team/app")])
        .stderr(writer)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let digest = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        reg.stored_manifests("team/app"),
        vec![digest.trim().to_owned()]
    );
    assert_eq!(tmp_leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn insecure_http_against_a_tls_port_says_what_happened() {
    let reg = Registry::start_with(support::registry::RegistryOptions::secure("u", "p"));
    let dir = tempfile::tempdir().unwrap();
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 63));
    let (ok, _, stderr) = run(ship_in(dir.path())
        .env("SHIP_REGISTRY_PASSWORD", "p")
        .arg("push-image")
        .arg(&image)
        .args([
            "--to",
            &reg.repo("team/app"),
            "--username",
            "u",
            "--insecure-http",
        ]));
    assert!(!ok);
    assert!(
        stderr.contains("the registry speaks HTTPS on this port")
            && stderr.contains("drop --insecure-http"),
        "{stderr}"
    );
}

#[test]
fn text_output_counts_retries_and_says_1_layer() {
    let reg = Registry::start();
    let mut refused = false;
    let proxy = support::proxy::FaultProxy::start(reg.addr(), move |req| {
        if req.method == "PUT" && req.path.contains("/manifests/") && !refused {
            refused = true;
            return support::proxy::Action::Respond(503, vec![]);
        }
        support::proxy::Action::Forward
    });
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ImageSpec::demo("amd64", 64);
    spec.layers.truncate(1);
    let image = write_archive(dir.path(), "image.tar", &spec);
    let (ok, _, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(&image)
        .args(["--to", &format!("{}/team/app", proxy.addr())]));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("linux/amd64, 1 layer,"), "{stderr}");
    assert!(stderr.contains("1 of 1 layer uploaded"), "{stderr}");
    assert!(stderr.contains(", 1 request retried"), "{stderr}");
}

#[test]
fn a_self_signed_certificate_given_with_ca_file_is_accepted_and_no_other() {
    let reg = Registry::start_with(support::registry::RegistryOptions::self_signed());
    let cert = reg.ca_file().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = write_archive(dir.path(), "image.tar", &ImageSpec::demo("amd64", 65));
    let push = |extra: &[&std::ffi::OsStr]| {
        run(ship_in(dir.path())
            .arg("push-image")
            .arg(&image)
            .args(["--to", &reg.repo("team/app")])
            .args(extra))
    };

    // Without it: refused, and the hint names the flag that helps.
    let (ok, _, stderr) = push(&[]);
    assert!(!ok);
    assert!(
        stderr.contains("TLS: ") && stderr.contains("--ca-file"),
        "{stderr}"
    );

    // Another self-signed certificate for the same address is not the one served: refused.
    support::registry::make_self_signed(dir.path(), "other");
    let other = dir.path().join("other.pem");
    let (ok, _, stderr) = push(&["--ca-file".as_ref(), other.as_os_str()]);
    assert!(!ok);
    assert!(stderr.contains("invalid peer certificate"), "{stderr}");

    // The very certificate served: accepted.
    let (ok, stdout, stderr) = push(&["--ca-file".as_ref(), cert.as_os_str()]);
    assert!(ok, "{stderr}");
    assert_eq!(
        reg.stored_manifests("team/app"),
        vec![stdout.trim().to_owned()]
    );
}
