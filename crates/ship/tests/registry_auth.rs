//! Auth and TLS against a Distribution registry with htpasswd (bcrypt) and its own CA:
//! the right credentials (flags or auth file) work with --ca-file; wrong or missing ones fail
//! clearly without the secret ever being printed; TLS is verified unless told otherwise.

use ship_test_support as support;

use base64::Engine as _;
use support::image::{write_archive, ImageSpec};
use support::registry::{Registry, RegistryOptions};
use support::token::TokenServer;
use support::{run, ship_in};

const USER: &str = "ship-ci";
const PASSWORD: &str = "correct-Horse-battery-7";

fn secure() -> Registry {
    Registry::start_with(RegistryOptions::secure(USER, PASSWORD))
}

fn image(dir: &std::path::Path) -> std::path::PathBuf {
    write_archive(dir, "image.tar", &ImageSpec::demo("amd64", 31))
}

/// Neither the secret nor anything that encodes it shows up in `text`.
fn assert_no_secret(text: &str, secret: &str) {
    assert!(!text.contains(secret), "secret leaked:\n{text}");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{secret}"));
    assert!(!text.contains(&basic), "basic credentials leaked:\n{text}");
}

#[test]
fn right_credentials_with_ca_file_push_image_and_index() {
    let reg = secure();
    let dir = tempfile::tempdir().unwrap();
    let ca = reg.ca_file().unwrap();
    let repo = reg.repo("private/app");
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &repo, "--username", USER])
        .arg("--ca-file")
        .arg(&ca)
        .env("SHIP_REGISTRY_PASSWORD", PASSWORD));
    assert!(ok, "{stderr}");
    assert_no_secret(&format!("{stdout}{stderr}"), PASSWORD);
    let digest = stdout.trim().to_owned();
    assert!(reg.stored_manifests("private/app").contains(&digest));

    // The password may come from any variable (e.g. GITHUB_TOKEN) via --password-env.
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .args([
            "push-index",
            "--to",
            &repo,
            "--tag",
            "v1",
            "--password-env",
            "MY_TOKEN",
        ])
        .args(["--username", USER])
        .arg("--ca-file")
        .arg(&ca)
        .arg(format!("{digest}@linux/amd64"))
        .env("MY_TOKEN", PASSWORD));
    assert!(ok, "{stderr}");
    assert_no_secret(&format!("{stdout}{stderr}"), PASSWORD);
    assert_eq!(reg.stored_tags("private/app"), vec!["v1"]);
}

#[test]
fn credentials_come_from_the_docker_or_podman_auth_file() {
    let reg = secure();
    let dir = tempfile::tempdir().unwrap();
    let ca = reg.ca_file().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let config = format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.addr());

    // podman's REGISTRY_AUTH_FILE
    let auth_file = dir.path().join("auth.json");
    std::fs::write(&auth_file, &config).unwrap();
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &reg.repo("a/b")])
        .arg("--ca-file")
        .arg(&ca)
        .env("REGISTRY_AUTH_FILE", &auth_file));
    assert!(ok, "{stderr}");
    assert_no_secret(&format!("{stdout}{stderr}"), PASSWORD);

    // docker's ~/.docker/config.json (HOME is the test's)
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".docker")).unwrap();
    std::fs::write(home.path().join(".docker/config.json"), &config).unwrap();
    let (ok, _, stderr) = run(ship_in(home.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &reg.repo("c/d")])
        .arg("--ca-file")
        .arg(&ca));
    assert!(ok, "{stderr}");
    assert_eq!(reg.stored_manifests("c/d").len(), 1);
}

#[test]
fn wrong_credentials_fail_clearly_and_the_secret_is_never_shown() {
    let reg = secure();
    let dir = tempfile::tempdir().unwrap();
    let wrong = "Wr0ng-but-S3cret-zq9";
    let repo = reg.repo("private/app");
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &repo, "--username", USER, "--format", "json"])
        .arg("--ca-file")
        .arg(reg.ca_file().unwrap())
        .env("SHIP_REGISTRY_PASSWORD", wrong));
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    assert_no_secret(&format!("{stdout}{stderr}"), wrong);
    assert!(
        stderr.contains(&format!("{repo}: checking config sha256:")),
        "{stderr}"
    );
    assert!(stderr.contains("401 Unauthorized"), "{stderr}");
    assert!(stderr.contains(&format!("refused the credentials of user \"{USER}\" from --username and $SHIP_REGISTRY_PASSWORD")), "{stderr}");
    assert!(reg.stored_manifests("private/app").is_empty());
    // The registry log shows the failed logins and nothing was stored.
    assert!(
        reg.log().contains("authentication failure")
            || reg.log().contains("invalid authorization credential"),
        "{}",
        reg.log()
    );

    // The same through an auth file.
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{wrong}"));
    let auth_file = dir.path().join("auth.json");
    std::fs::write(
        &auth_file,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.addr()),
    )
    .unwrap();
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .args(["push-index", "--to", &repo, "--tag", "x"])
        .arg("--ca-file")
        .arg(reg.ca_file().unwrap())
        .arg(format!("{}@linux/amd64", ship::oci::Digest::of(b"x")))
        .env("REGISTRY_AUTH_FILE", &auth_file));
    assert!(!ok);
    assert_no_secret(&format!("{stdout}{stderr}"), wrong);
    assert!(stderr.contains("401 Unauthorized"), "{stderr}");
    assert!(
        stderr.contains(&format!("auth file {}", auth_file.display())),
        "{stderr}"
    );
}

#[test]
fn missing_credentials_say_how_to_give_them() {
    let reg = secure();
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &reg.repo("a/b")])
        .arg("--ca-file")
        .arg(reg.ca_file().unwrap()));
    assert!(!ok);
    assert!(stderr.contains("401 Unauthorized"), "{stderr}");
    assert!(
        stderr.contains(&format!("no credentials were found for {}", reg.addr())),
        "{stderr}"
    );

    // A username without its password is refused before any request.
    let (ok, _, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &reg.repo("a/b"), "--username", USER]));
    assert!(!ok);
    assert!(stderr.contains("$SHIP_REGISTRY_PASSWORD"), "{stderr}");
}

#[test]
fn tls_is_verified_without_the_ca_file() {
    let reg = secure();
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &reg.repo("a/b"), "--username", USER])
        .env("SHIP_REGISTRY_PASSWORD", PASSWORD));
    assert!(!ok, "{stdout}");
    assert_no_secret(&format!("{stdout}{stderr}"), PASSWORD);
    assert!(stderr.contains(&reg.repo("a/b")), "{stderr}");
    assert!(stderr.contains("TLS"), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    assert!(stderr.contains("--ca-file"), "{stderr}");
    // Verification failures are not retried.
    assert!(!stderr.contains("attempts"), "{stderr}");

    // A CA file that is not a certificate is named.
    let bogus = dir.path().join("bogus.pem");
    std::fs::write(&bogus, "hello").unwrap();
    let (ok, _, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &reg.repo("a/b")])
        .arg("--ca-file")
        .arg(&bogus));
    assert!(!ok);
    assert!(
        stderr.contains("bogus.pem") && stderr.contains("no PEM certificate"),
        "{stderr}"
    );
}

#[test]
fn bearer_tokens_from_the_realm_the_registry_names() {
    let tokens = TokenServer::start(USER, PASSWORD);
    let reg = Registry::start_with(RegistryOptions::bearer(&tokens));
    let dir = tempfile::tempdir().unwrap();
    let repo = reg.repo("team/app");
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &repo, "--username", USER])
        .env("SHIP_REGISTRY_PASSWORD", PASSWORD));
    assert!(ok, "{stderr}\nregistry log:\n{}", reg.log());
    assert_no_secret(&format!("{stdout}{stderr}"), PASSWORD);
    let digest = stdout.trim().to_owned();
    let (ok, _, stderr) = run(ship_in(dir.path())
        .args([
            "push-index",
            "--to",
            &repo,
            "--tag",
            "latest",
            "--username",
            USER,
        ])
        .arg(format!("{digest}@linux/amd64"))
        .env("SHIP_REGISTRY_PASSWORD", PASSWORD));
    assert!(ok, "{stderr}");
    assert_eq!(reg.stored_tags("team/app"), vec!["latest"]);

    // One token per run (cached for every request after the first 401), scoped to
    // pull+push on the repository, asked for with the user's credentials.
    let requests = tokens.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    for r in &requests {
        assert!(r.granted, "{r:?}");
        assert_eq!(r.user.as_deref(), Some(USER));
        assert!(r.query.contains("service=ship-test-registry"), "{r:?}");
        assert!(
            r.query
                .contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush"),
            "{r:?}"
        );
    }

    // Refused by the token server: a clear error, no secret.
    let wrong = "not-the-Token-123";
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &reg.repo("team/other"), "--username", USER])
        .env("SHIP_REGISTRY_PASSWORD", wrong));
    assert!(!ok);
    assert_no_secret(&format!("{stdout}{stderr}"), wrong);
    assert!(
        stderr.contains(&format!("authenticating at {}", tokens.realm())),
        "{stderr}"
    );
    assert!(stderr.contains("401 Unauthorized"), "{stderr}");
    assert!(reg.stored_manifests("team/other").is_empty());
}

#[test]
fn credential_helpers_named_in_the_auth_file_are_asked() {
    use std::os::unix::fs::PermissionsExt;
    let reg = secure();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // docker-credential-<name> get: server on stdin, {"Username","Secret"} on stdout.
    let helper = bin.join("docker-credential-shiptest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\n[ \"$server\" = \"{}\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n",
            reg.addr()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let auth_file = dir.path().join("auth.json");
    std::fs::write(
        &auth_file,
        format!(r#"{{"credHelpers":{{"{}":"shiptest"}}}}"#, reg.addr()),
    )
    .unwrap();
    let (ok, stdout, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &reg.repo("h/x")])
        .arg("--ca-file")
        .arg(reg.ca_file().unwrap())
        .env("PATH", &path)
        .env("REGISTRY_AUTH_FILE", &auth_file));
    assert!(ok, "{stderr}");
    assert_no_secret(&format!("{stdout}{stderr}"), PASSWORD);
    assert_eq!(reg.stored_manifests("h/x").len(), 1);

    // A helper this machine does not have means "no credentials", not a crash.
    std::fs::write(&auth_file, r#"{"credsStore":"not-installed-here"}"#).unwrap();
    let (ok, _, stderr) = run(ship_in(dir.path())
        .arg("push-image")
        .arg(image(dir.path()))
        .args(["--to", &reg.repo("h/y")])
        .arg("--ca-file")
        .arg(reg.ca_file().unwrap())
        .env("REGISTRY_AUTH_FILE", &auth_file));
    assert!(!ok);
    assert!(stderr.contains("no credentials were found"), "{stderr}");
}
