//! Starts the real binary on an ephemeral loopback port, calls its endpoints over TCP, then
//! stops it the way a container runtime does (SIGTERM) and checks it exits cleanly.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

async fn get(addr: &str, path: &str) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("utf8");
    let (head, body) = text.split_once("\r\n\r\n").expect("http response");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, serde_json::from_str(body).expect("json body"))
}

#[tokio::test]
async fn serves_both_endpoints_and_stops_on_sigterm() {
    // Its own configuration directory: the build sandbox has no configuration/ (it is the
    // image's, not the cargo source's).
    let config_dir = std::env::temp_dir().join(format!("demo-http-{}", std::process::id()));
    std::fs::create_dir_all(&config_dir).expect("mkdir");
    std::fs::write(
        config_dir.join("service.json"),
        r#"{"greeting": "hello from the test"}"#,
    )
    .expect("write service.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_demo-service"))
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("APP_CONFIG_DIR", &config_dir)
        .env("APP_ENVIRONMENT", "test")
        .env_remove("SSL_CERT_FILE")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn demo-service");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("service printed nothing")
        .expect("read stdout")
        .expect("stdout closed");
    let addr = first
        .strip_prefix("listening on ")
        .expect("first line names the address")
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    let (status, health) = get(&addr, "/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["requests"], 1);
    let (_, health) = get(&addr, "/healthz").await;
    assert_eq!(health["requests"], 2, "the database keeps state");

    let (status, version) = get(&addr, "/version").await;
    assert_eq!(status, 200);
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    // Tests run the dev profile's binary; the build script must have recognised it.
    assert_eq!(version["profile"], "dev");
    assert_eq!(version["arch"], std::env::consts::ARCH);
    let expected_rev = option_env!("SHIP_GIT_REV").unwrap_or("unknown");
    assert_eq!(version["git_rev"], expected_rev);

    let (status, settings) = get(&addr, "/settings").await;
    assert_eq!(status, 200);
    assert_eq!(settings["greeting"], "hello from the test");
    assert_eq!(settings["environment"], "test");
    assert!(settings["ca_bundle"].is_null(), "{settings}");

    let (status, _) = get_status(&addr, "/nope").await;
    assert_eq!(status, 404);

    let pid = child.id().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("service did not stop after SIGTERM")
        .expect("wait");
    assert!(status.success(), "clean exit after SIGTERM, got {status:?}");
    std::fs::remove_dir_all(&config_dir).expect("remove the configuration directory");
}

async fn get_status(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, text)
}
