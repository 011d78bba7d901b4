//! A registry that stops answering, or stops reading in the middle of an upload, never hangs
//! ship: every wait is bounded by --stall-timeout, the whole registry work by --timeout, and
//! SIGINT/SIGTERM end a push. Nothing is left in TMPDIR either way. (No durations are
//! asserted: each test checks that ship ENDED, and how; a generous outer kill is only a
//! safety net.)

use ship_test_support as support;

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use support::image::{write_archive, ImageSpec, Layer};
use support::proxy::{Action, FaultProxy, SilentServer};
use support::registry::Registry;
use support::{ship_in, tmp_leftovers};

/// Start `cmd` with stdout and stderr going to files in `home`.
fn spawn(cmd: &mut Command, home: &Path) -> Child {
    let out = std::fs::File::create(home.join("stdout")).unwrap();
    let err = std::fs::File::create(home.join("stderr")).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start ship")
}

/// Wait for `child` to end; kill it and fail if it is still running after the safety net
/// (10 minutes: far beyond what any of these tests needs).
fn wait_ended(child: &mut Child, home: &Path) -> (ExitStatus, String, String) {
    for _ in 0..6000 {
        if let Some(status) = child.try_wait().unwrap() {
            let read = |name| std::fs::read_to_string(home.join(name)).unwrap_or_default();
            return (status, read("stdout"), read("stderr"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "ship did not end: {}",
        std::fs::read_to_string(home.join("stderr")).unwrap_or_default()
    );
}

fn push_cmd(home: &Path, image: &Path, repo: &str, extra: &[&str]) -> Command {
    let mut cmd = ship_in(home);
    cmd.arg("push-image")
        .arg(image)
        .args(["--to", repo])
        .args(extra);
    cmd
}

#[test]
fn a_silent_registry_ends_the_push_at_the_deadline() {
    let server = SilentServer::start();
    let home = tempfile::tempdir().unwrap();
    let image = write_archive(home.path(), "image.tar", &ImageSpec::demo("amd64", 70));
    let repo = format!("{}/team/app", server.addr());
    let mut child = spawn(
        &mut push_cmd(
            home.path(),
            &image,
            &repo,
            &["--stall-timeout", "1s", "--timeout", "4s"],
        ),
        home.path(),
    );
    let (status, stdout, stderr) = wait_ended(&mut child, home.path());
    println!("{stderr}");
    assert_eq!(status.code(), Some(124), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(&format!("ship: {repo}: checking config sha256:")),
        "{stderr}"
    );
    assert!(
        stderr.contains("the overall deadline of 4s (--timeout / SHIP_TIMEOUT) ran out"),
        "{stderr}"
    );
    assert_eq!(tmp_leftovers(home.path()), Vec::<String>::new());
}

#[test]
fn without_a_deadline_stalls_are_retried_a_bounded_number_of_times() {
    let server = SilentServer::start();
    let home = tempfile::tempdir().unwrap();
    let image = write_archive(home.path(), "image.tar", &ImageSpec::demo("amd64", 71));
    let repo = format!("{}/team/app", server.addr());
    let mut child = spawn(
        &mut push_cmd(home.path(), &image, &repo, &["--stall-timeout", "1"]),
        home.path(),
    );
    let (status, _, stderr) = wait_ended(&mut child, home.path());
    println!("{stderr}");
    assert_eq!(status.code(), Some(1), "{stderr}");
    // The loopback probe tries HTTPS then plain HTTP once per attempt, no more.
    assert!(
        stderr.contains("no answer over HTTPS (no connection (TCP and TLS handshake) within 1s"),
        "{stderr}"
    );
    assert!(stderr.contains("--stall-timeout"), "{stderr}");
    assert!(stderr.contains("gave up after 5 attempts"), "{stderr}");
    assert!(server.accepted() <= 10, "{} connections", server.accepted());
    assert_eq!(tmp_leftovers(home.path()), Vec::<String>::new());
}

/// An image whose last layer (24 MiB, incompressible) is far larger than loopback socket
/// buffers, so a server that stops reading it blocks the sender.
fn big_image(home: &Path, seed: u64) -> std::path::PathBuf {
    let mut spec = ImageSpec::demo("amd64", seed);
    spec.layers
        .push(Layer::new("big-data", 24 << 20, seed + 1000));
    write_archive(home, "big.tar", &spec)
}

fn is_big_put(req: &support::proxy::RequestHead, big_digest: &str) -> bool {
    req.method == "PUT"
        && req
            .path
            .contains(&format!("digest={}", big_digest.replace(':', "%3A")))
}

#[test]
fn an_upload_the_registry_stops_reading_is_retried_and_completes() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let image = big_image(home.path(), 72);
    let big = support::image::expected_layer_blob(&Layer::new("big-data", 24 << 20, 1072))
        .0
        .to_string();
    let mut stalled = false;
    let proxy = FaultProxy::start(reg.addr(), move |req| {
        if is_big_put(req, &big) && !stalled {
            stalled = true;
            return Action::StallAfter(1 << 20);
        }
        Action::Forward
    });
    let repo = format!("{}/team/app", proxy.addr());
    let mut child = spawn(
        &mut push_cmd(
            home.path(),
            &image,
            &repo,
            &["--stall-timeout", "2s", "--format", "json"],
        ),
        home.path(),
    );
    let (status, stdout, stderr) = wait_ended(&mut child, home.path());
    assert!(status.success(), "{stderr}");
    let pushed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(pushed["retries"], 1, "{pushed}");
    assert_eq!(pushed["layers_uploaded"], 4, "{pushed}");
    assert!(
        proxy
            .seen()
            .iter()
            .any(|s| s.contains("stalled after 1048576 body bytes")),
        "{:#?}",
        proxy.seen()
    );
    assert_eq!(
        reg.stored_manifests("team/app"),
        vec![pushed["manifest_digest"].as_str().unwrap().to_owned()]
    );
    assert_eq!(tmp_leftovers(home.path()), Vec::<String>::new());
}

#[test]
fn an_upload_that_stalls_every_time_ends_at_the_deadline_with_nothing_published() {
    let reg = Registry::start();
    let home = tempfile::tempdir().unwrap();
    let image = big_image(home.path(), 73);
    let big = support::image::expected_layer_blob(&Layer::new("big-data", 24 << 20, 1073))
        .0
        .to_string();
    let proxy = FaultProxy::start(reg.addr(), move |req| {
        if is_big_put(req, &big) {
            return Action::StallAfter(1 << 20);
        }
        Action::Forward
    });
    let repo = format!("{}/team/app", proxy.addr());
    let mut child = spawn(
        push_cmd(home.path(), &image, &repo, &["--stall-timeout", "2s"]).env("SHIP_TIMEOUT", "8s"),
        home.path(),
    );
    let (status, _, stderr) = wait_ended(&mut child, home.path());
    println!("{stderr}");
    assert_eq!(status.code(), Some(124), "{stderr}");
    assert!(
        stderr.contains(&format!("ship: {repo}: uploading layer sha256:")),
        "{stderr}"
    );
    assert!(stderr.contains("deadline of 8s"), "{stderr}");
    assert!(reg.stored_manifests("team/app").is_empty());
    assert_eq!(tmp_leftovers(home.path()), Vec::<String>::new());
}

/// Start a push against a silent registry, wait until its spool directory exists, send
/// `signal`; ship must end with 128 + the signal's number and leave TMPDIR empty.
fn interrupted_push_cleans_up(signal: libc::c_int, code: i32) {
    let server = SilentServer::start();
    let home = tempfile::tempdir().unwrap();
    let image = write_archive(home.path(), "image.tar", &ImageSpec::demo("amd64", 74));
    let repo = format!("{}/team/app", server.addr());
    let mut child = spawn(&mut push_cmd(home.path(), &image, &repo, &[]), home.path());
    // Bounded wait until the image is prepared (its temporary directory is in use).
    for _ in 0..3000 {
        let stderr = std::fs::read_to_string(home.path().join("stderr")).unwrap_or_default();
        if stderr.contains("layers,") || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        tmp_leftovers(home.path()).len(),
        1,
        "{:?}",
        tmp_leftovers(home.path())
    );
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let (status, _, stderr) = wait_ended(&mut child, home.path());
    assert_eq!(status.code(), Some(code), "{stderr}");
    assert_eq!(tmp_leftovers(home.path()), Vec::<String>::new());
}

#[test]
fn sigterm_during_a_push_removes_the_temporary_files() {
    interrupted_push_cleans_up(libc::SIGTERM, 143);
}

#[test]
fn sigint_during_a_push_removes_the_temporary_files() {
    interrupted_push_cleans_up(libc::SIGINT, 130);
}
