//! A bearer-token server for Distribution's `auth: token` mode, the scheme ghcr.io and
//! Docker Hub use: the registry answers 401 with `WWW-Authenticate: Bearer realm=...`, the
//! client asks the realm for a token (basic auth, `service` and `scope` in the query) and
//! retries with `Authorization: Bearer <token>`. Tokens are RS256 JWTs signed with a key made
//! by openssl for the test; the registry trusts its certificate (`rootcertbundle`), carried
//! in the JWT's `x5c` header.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::Engine as _;

use super::require_tool;

pub const SERVICE: &str = "ship-test-registry";
pub const ISSUER: &str = "ship-test-issuer";

/// One token request as the server saw it.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub query: String,
    /// The basic-auth user, if any.
    pub user: Option<String>,
    pub granted: bool,
}

pub struct TokenServer {
    addr: String,
    cert: PathBuf,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TokenServer {
    /// Grants pull+push on any repository to `user`/`password`, nothing to anyone else.
    pub fn start(user: &str, password: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ship-token-")
            .tempdir()
            .expect("token dir");
        let openssl = require_tool(&["openssl"], "openssl");
        let out = Command::new(&openssl)
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "token.key",
                "-out",
                "token.pem",
                "-days",
                "3",
                "-subj",
                "/CN=ship test token issuer",
            ])
            .current_dir(dir.path())
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let der = Command::new(&openssl)
            .args(["x509", "-in", "token.pem", "-outform", "DER"])
            .current_dir(dir.path())
            .output()
            .expect("run openssl");
        assert!(der.status.success());
        let x5c = base64::engine::general_purpose::STANDARD.encode(&der.stdout);

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind token server");
        let addr = listener.local_addr().expect("addr").to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let thread = {
            let requests = requests.clone();
            let stop = stop.clone();
            let key = dir.path().join("token.key");
            let user = user.to_owned();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = conn {
                        serve(stream, &expected, &user, &x5c, &key, &openssl, &requests);
                    }
                }
            })
        };
        Self {
            addr,
            cert: dir.path().join("token.pem"),
            requests,
            stop,
            thread: Some(thread),
            _dir: dir,
        }
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// The certificate the registry must trust (`rootcertbundle`).
    pub fn cert(&self) -> &Path {
        &self.cert
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(
    stream: TcpStream,
    expected_auth: &str,
    user: &str,
    x5c: &str,
    key: &Path,
    openssl: &Path,
    requests: &Mutex<Vec<TokenRequest>>,
) {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_owned());
            }
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let query = target
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .to_owned();
    let granted = authorization.as_deref() == Some(expected_auth);
    let basic_user = authorization.as_deref().and_then(|a| {
        let b = a.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(b).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        Some(text.split(':').next().unwrap_or_default().to_owned())
    });
    if let Ok(mut r) = requests.lock() {
        r.push(TokenRequest {
            query: query.clone(),
            user: basic_user,
            granted,
        });
    }
    let mut stream = stream;
    if !granted {
        let body = r#"{"details":"incorrect username or password"}"#;
        let _ = write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let issued = requests.lock().map(|r| r.len()).unwrap_or(0);
    let Some(token) = sign_token(&query, user, x5c, key, openssl, issued) else {
        return;
    };
    let body =
        serde_json::json!({"token": token, "access_token": token, "expires_in": 600}).to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.shutdown(Shutdown::Both);
}

/// A JWT granting exactly the actions `query`'s `scope` asks for, signed with `key` (the
/// certificate in `x5c`); `issued` makes its `jti` unique.
fn sign_token(
    query: &str,
    user: &str,
    x5c: &str,
    key: &Path,
    openssl: &Path,
    issued: usize,
) -> Option<String> {
    // Grant exactly the actions asked for in `scope`.
    let access: Vec<serde_json::Value> = query_param(query, "scope")
        .map(|scope| {
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next(), parts.next(), parts.next());
            vec![serde_json::json!({
                "type": kind.unwrap_or_default(),
                "name": name.unwrap_or_default(),
                "actions": actions.unwrap_or_default().split(',').collect::<Vec<_>>(),
            })]
        })
        .unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": user,
        "aud": SERVICE,
        "exp": now + 600,
        "nbf": now - 60,
        "iat": now,
        "jti": format!("ship-test-{now}-{issued}"),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut child = match Command::new(openssl)
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => return None,
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(signing_input.as_bytes());
    }
    let signature = match child.wait_with_output() {
        Ok(out) if out.status.success() => out.stdout,
        _ => return None,
    };
    Some(format!("{signing_input}.{}", b64url(&signature)))
}
