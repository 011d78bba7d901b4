//! A real Distribution registry (`docker-registry serve CONFIG`) for tests: 127.0.0.1 with an
//! ephemeral port (read back from its log), storage in a temporary directory, optionally
//! htpasswd (bcrypt) auth and TLS with a CA generated for the test. The process is killed on
//! drop; [`Registry::kill`] stops it mid-test and [`Registry::restart`] brings it back on the
//! same storage (on a new port).
//!
//! ```no_run
//! use ship_test_support::registry::{Registry, RegistryOptions};
//! let reg = Registry::start();                       // plain HTTP
//! let secure = Registry::start_with(RegistryOptions::secure("user", "pass"));
//! let repo = reg.repo("team/app");                   // "127.0.0.1:PORT/team/app"
//! ```

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{output_ok, require_tool};

/// How the registry is set up.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// htpasswd user and password (bcrypt); `None`: anonymous.
    pub login: Option<(String, String)>,
    /// Serve HTTPS with a certificate for 127.0.0.1 signed by a CA made for this registry.
    pub tls: bool,
    /// With `tls`: serve a self-signed certificate instead, made the usual way (`openssl req
    /// -x509`, which marks it CA:TRUE); [`Registry::ca_file`] is that certificate.
    pub self_signed: bool,
    /// Bearer-token auth: the token server's realm URL and the certificate its tokens are
    /// signed with (see [`super::token::TokenServer`]).
    pub token: Option<(String, PathBuf)>,
}

impl RegistryOptions {
    pub fn plain() -> Self {
        Self::default()
    }
    /// htpasswd + TLS, as a private registry would be run.
    pub fn secure(user: &str, password: &str) -> Self {
        Self {
            login: Some((user.to_owned(), password.to_owned())),
            tls: true,
            self_signed: false,
            token: None,
        }
    }
    /// Anonymous HTTPS with a self-signed certificate for 127.0.0.1.
    pub fn self_signed() -> Self {
        Self {
            tls: true,
            self_signed: true,
            ..Self::default()
        }
    }
    /// Bearer tokens from `server`, as ghcr.io and Docker Hub do it (plain HTTP).
    pub fn bearer(server: &super::token::TokenServer) -> Self {
        Self {
            token: Some((server.realm(), server.cert().to_owned())),
            ..Self::default()
        }
    }
}

/// Stops the registry process from anywhere (e.g. a proxy callback).
#[derive(Clone)]
pub struct KillHandle(Arc<Mutex<Option<Child>>>);

impl KillHandle {
    /// Kill the registry (SIGKILL, by its own pid) and reap it. Idempotent.
    pub fn kill(&self) {
        if let Ok(mut guard) = self.0.lock() {
            if let Some(mut child) = guard.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

pub struct Registry {
    dir: tempfile::TempDir,
    options: RegistryOptions,
    child: KillHandle,
    addr: String,
    starts: u32,
}

impl Registry {
    /// A plain-HTTP, anonymous registry.
    pub fn start() -> Self {
        Self::start_with(RegistryOptions::plain())
    }

    pub fn start_with(options: RegistryOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ship-registry-")
            .tempdir()
            .expect("temporary directory for the registry");
        fs::create_dir_all(dir.path().join("storage")).expect("storage dir");
        if options.tls && options.self_signed {
            make_self_signed(dir.path(), "server");
            fs::copy(dir.path().join("server.pem"), dir.path().join("ca.pem"))
                .expect("copy the certificate");
        } else if options.tls {
            make_certificates(dir.path());
        }
        if let Some((user, password)) = &options.login {
            let htpasswd = require_tool(&["htpasswd"], "apache2-utils");
            let out = Command::new(htpasswd)
                .args(["-Bbn", user, password])
                .output()
                .expect("run htpasswd");
            assert!(out.status.success(), "htpasswd failed: {out:?}");
            fs::write(dir.path().join("htpasswd"), &out.stdout).expect("write htpasswd");
        }
        fs::write(
            dir.path().join("config.yml"),
            config_yaml(dir.path(), &options),
        )
        .expect("write registry config");
        let mut registry = Self {
            dir,
            options,
            child: KillHandle(Arc::new(Mutex::new(None))),
            addr: String::new(),
            starts: 0,
        };
        registry.spawn();
        registry
    }

    fn spawn(&mut self) {
        let binary = require_tool(&["docker-registry", "registry"], "docker-registry");
        self.starts += 1;
        let log_path = self
            .dir
            .path()
            .join(format!("registry-{}.log", self.starts));
        let log = fs::File::create(&log_path).expect("registry log file");
        let child = Command::new(binary)
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        *self.child.0.lock().expect("registry lock") = Some(child);
        // Bounded wait for "listening on 127.0.0.1:PORT" (start-up, not a timed assertion).
        for _ in 0..600 {
            let text = fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(addr) = parse_listen_addr(&text) {
                self.addr = addr;
                return;
            }
            let exited = self
                .child
                .0
                .lock()
                .ok()
                .and_then(|mut g| g.as_mut().and_then(|c| c.try_wait().ok().flatten()));
            if let Some(status) = exited {
                panic!("docker-registry exited ({status}) before listening:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        self.kill();
        panic!("docker-registry did not report its address:\n{text}");
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `127.0.0.1:PORT/PATH`, a repository in this registry.
    pub fn repo(&self, path: &str) -> String {
        format!("{}/{path}", self.addr)
    }

    /// The CA certificate to trust (TLS registries only).
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.options.tls.then(|| self.dir.path().join("ca.pem"))
    }

    pub fn is_tls(&self) -> bool {
        self.options.tls
    }

    /// Where the registry keeps its data (survives kill/restart).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Image manifest (and index) revisions stored for `repo_path` (empty if the repository
    /// does not exist), ship's layer records left out: a check that reads the registry's
    /// storage, not its API.
    pub fn stored_manifests(&self, repo_path: &str) -> Vec<String> {
        self.stored(repo_path, "_manifests/revisions/sha256")
            .into_iter()
            .filter(|hex| {
                !self
                    .stored_blob(hex)
                    .is_some_and(|b| is_layer_record_manifest(&b))
            })
            .map(|hex| format!("sha256:{hex}"))
            .collect()
    }

    /// The bytes of a blob in storage, by its sha256 hex digits.
    fn stored_blob(&self, hex: &str) -> Option<Vec<u8>> {
        let path = self
            .storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(hex.get(..2)?)
            .join(hex)
            .join("data");
        fs::read(path).ok()
    }

    /// Image tags stored for `repo_path`, from storage: every tag but ship's layer records
    /// (`sha256-<hex>.ship-layer`, see [`Registry::stored_layer_records`]).
    pub fn stored_tags(&self, repo_path: &str) -> Vec<String> {
        let mut tags = self.stored(repo_path, "_manifests/tags");
        tags.retain(|t| !is_layer_record(t));
        tags
    }

    /// The layer-record tags stored for `repo_path`, from storage.
    pub fn stored_layer_records(&self, repo_path: &str) -> Vec<String> {
        let mut tags = self.stored(repo_path, "_manifests/tags");
        tags.retain(|t| is_layer_record(t));
        tags
    }

    /// Sorted entry names of a directory in `repo_path`'s storage (none if it does not exist).
    fn stored(&self, repo_path: &str, sub: &str) -> Vec<String> {
        let dir = self
            .storage()
            .join("docker/registry/v2/repositories")
            .join(repo_path)
            .join(sub);
        let mut out: Vec<String> = fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// One anonymous plain-HTTP request to the registry's API (`path` is `/v2/...`): the
    /// status and body. For checks from outside ship, e.g. HEAD of a blob, or DELETE of one
    /// to imitate a registry that lost it.
    pub fn api(&self, method: &str, path: &str, accept: &str) -> (u16, Vec<u8>) {
        self.api_send(method, path, &format!("Accept: {accept}"), &[])
    }

    /// [`Registry::api`] with a body of `content_type`, e.g. to PUT a manifest ship did not
    /// write.
    pub fn api_put(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
        self.api_send("PUT", path, &format!("Content-Type: {content_type}"), body)
    }

    fn api_send(&self, method: &str, path: &str, header: &str, body: &[u8]) -> (u16, Vec<u8>) {
        use std::io::Write;
        assert!(!self.options.tls, "api() speaks plain HTTP");
        let mut conn = std::net::TcpStream::connect(&self.addr).expect("connect to the registry");
        write!(
            conn,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{header}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .expect("send request");
        conn.write_all(body).expect("send body");
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).expect("read answer");
        let head_end = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head}"));
        (status, answer[head_end + 4..].to_vec())
    }

    /// The registry's log so far (all starts).
    pub fn log(&self) -> String {
        let mut text = String::new();
        for n in 1..=self.starts {
            let mut f = match fs::File::open(self.dir.path().join(format!("registry-{n}.log"))) {
                Ok(f) => f,
                Err(_) => continue,
            };
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// A handle that kills this registry from another thread.
    pub fn kill_handle(&self) -> KillHandle {
        self.child.clone()
    }

    /// Stop the registry now (SIGKILL).
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// Start it again on the same storage (a new port: read [`Registry::addr`] again).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Environment for skopeo so it finds nothing of the user's (`--tls-verify=false` and
    /// friends are up to the caller).
    pub fn skopeo(&self) -> Command {
        let mut cmd = Command::new(require_tool(&["skopeo"], "skopeo"));
        cmd.env("HOME", self.dir.path()).env(
            "REGISTRY_AUTH_FILE",
            self.dir.path().join("skopeo-auth.json"),
        );
        cmd
    }

    /// `skopeo inspect --raw docker://REFERENCE`: the manifest or index bytes as stored, as
    /// text; `creds` is `USER:PASSWORD` for a registry with auth.
    pub fn inspect_raw(&self, reference: &str, creds: Option<&str>) -> String {
        let mut cmd = self.skopeo();
        cmd.args(["inspect", "--raw", "--tls-verify=false"]);
        if let Some(creds) = creds {
            cmd.arg(format!("--creds={creds}"));
        }
        let out = output_ok(cmd.arg(format!("docker://{reference}")));
        String::from_utf8(out.stdout).expect("manifest is UTF-8")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A layer record's manifest, by its artifactType.
fn is_layer_record_manifest(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .is_ok_and(|v| v["artifactType"] == "application/vnd.ship.layer-record.v1")
}

fn is_layer_record(tag: &str) -> bool {
    tag.starts_with("sha256-") && tag.ends_with(".ship-layer")
}

/// `127.0.0.1:PORT` from the registry's "listening on" log line.
pub fn parse_listen_addr(log: &str) -> Option<String> {
    let at = log.find("listening on ")?;
    let rest = &log[at + "listening on ".len()..];
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
        .collect();
    let port = addr.rsplit(':').next()?;
    (addr.starts_with("127.0.0.1:") && port.parse::<u16>().is_ok_and(|p| p != 0)).then_some(addr)
}

fn config_yaml(dir: &Path, options: &RegistryOptions) -> String {
    let mut yaml = format!(
        "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: ship-test-secret\n",
        dir.join("storage").display()
    );
    if options.tls {
        yaml.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            dir.join("server.pem").display(),
            dir.join("server.key").display()
        ));
    }
    if let Some((realm, cert)) = &options.token {
        yaml.push_str(&format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            super::token::SERVICE,
            super::token::ISSUER,
            cert.display()
        ));
    } else if options.login.is_some() {
        yaml.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: ship-test\n    path: {}\n",
            dir.join("htpasswd").display()
        ));
    }
    yaml
}

/// `NAME.pem` and `NAME.key` in `dir`: a self-signed certificate for 127.0.0.1 made as the
/// usual guides say (`openssl req -x509 ... -addext subjectAltName=IP:127.0.0.1`); openssl's
/// default req extensions make it CA:TRUE.
pub fn make_self_signed(dir: &Path, name: &str) {
    self_signed(dir, name, "/CN=127.0.0.1", &["subjectAltName=IP:127.0.0.1"]);
}

/// `NAME.key` (EC P-256) and `NAME.pem`, self-signed for `subject`, with `extensions` added.
fn self_signed(dir: &Path, name: &str, subject: &str, extensions: &[&str]) {
    let openssl = require_tool(&["openssl"], "openssl");
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &pem,
        "-days",
        "3",
        "-subj",
        subject,
    ];
    for extension in extensions {
        args.extend(["-addext", extension]);
    }
    output_ok(Command::new(openssl).args(&args).current_dir(dir));
}

/// A CA and a server certificate for 127.0.0.1/localhost signed by it (EC P-256).
fn make_certificates(dir: &Path) {
    let openssl = require_tool(&["openssl"], "openssl");
    let run = |args: &[&str]| {
        output_ok(Command::new(&openssl).args(args).current_dir(dir));
    };
    self_signed(
        dir,
        "ca",
        "/CN=ship test CA",
        &[
            "basicConstraints=critical,CA:TRUE",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "3",
        "-extfile",
        "server.ext",
    ]);
}
