//! One HTTP exchange with a registry over ureq: the agent (TLS roots, timeouts), the request
//! as sent, the answer as read (status, the headers ship uses, a bounded body), and transport
//! failures sorted into worth-retrying or not.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use ureq::unversioned::transport::Connector as _;

use super::Client;
use crate::registry::auth::Secret;
use crate::registry::retry::Failure;
use crate::registry::RegistryError;

/// The most ship reads of a manifest, config or error body.
const BODY_LIMIT: u64 = 16 << 20;

/// What a request sends as its body.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a Path),
}

/// One HTTP request against the registry.
#[derive(Debug, Clone)]
pub(crate) struct Call<'a> {
    pub method: &'static str,
    /// `/v2/...`, or an absolute URL the registry handed out (upload locations).
    pub target: String,
    pub accept: Option<&'a str>,
    pub content_type: Option<&'a str>,
    /// `START-END` (inclusive) of a chunk of a blob upload.
    pub content_range: Option<String>,
    pub payload: Payload<'a>,
}

impl<'a> Call<'a> {
    pub fn new(method: &'static str, target: String) -> Self {
        Self {
            method,
            target,
            accept: None,
            content_type: None,
            content_range: None,
            payload: Payload::Empty,
        }
    }
}

/// A registry answer: status, the headers ship reads, and the body (empty for HEAD).
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// `404 Not Found: MANIFEST_UNKNOWN: manifest unknown`, from the OCI error body if any.
    pub fn describe(&self) -> String {
        let reason = reason_phrase(self.status);
        let mut out = format!("{} {reason}", self.status);
        if let Some(errors) = registry_errors(&self.body) {
            out.push_str(": ");
            out.push_str(&errors);
        } else if !self.body.is_empty() {
            let text = String::from_utf8_lossy(&self.body);
            let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if !text.is_empty() {
                out.push_str(": ");
                out.push_str(&truncate(&text, 200));
            }
        }
        out
    }
}

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// Worth another try if the policy allows.
    Retryable { failure: Failure, detail: String },
    /// Stop now.
    Fatal(String),
    /// The overall deadline ran out during the attempt.
    Deadline,
}

/// The HTTP agent for one registry: the CA file's roots (or the public ones), ship's
/// user agent, a few redirects, and `stall` as the longest wait to connect and for each
/// read or write to make progress (a registry that stops reading a body or stops
/// answering is given up on, whatever the phase).
pub(super) fn agent(ca_file: Option<&Path>, stall: Duration) -> Result<ureq::Agent, RegistryError> {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("ship/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(stall))
        .timeout_per_read(Some(stall))
        .timeout_per_write(Some(stall))
        .max_redirects(5)
        .build();
    let Some(path) = ca_file else {
        return Ok(config.into());
    };
    let certs = read_ca_file(path)?
        .iter()
        .map(|c| rustls::pki_types::CertificateDer::from(c.der().to_vec()))
        .collect();
    let setup = |e: String| RegistryError::Setup(format!("--ca-file {}: {e}", path.display()));
    let verifier = super::tls::PinnedOrVerified::new(certs).map_err(setup)?;
    let tls = super::tls::PinnedTlsConnector::new(verifier).map_err(setup)?;
    let connector = ().chain(ureq::unversioned::transport::TcpConnector::default()).chain(tls);
    Ok(ureq::Agent::with_parts(
        config,
        connector,
        ureq::unversioned::resolver::DefaultResolver::default(),
    ))
}

impl Client {
    /// Send one request, no retries, no auth handling.
    pub(super) fn send(
        &self,
        call: &Call<'_>,
        url: &str,
        auth: Option<&Secret>,
    ) -> Result<Answer, AttemptError> {
        let mut builder = ureq::http::Request::builder().method(call.method).uri(url);
        if let Some(a) = auth {
            builder = builder.header("authorization", a.expose());
        }
        if let Some(accept) = call.accept {
            builder = builder.header("accept", accept);
        }
        if let Some(ct) = call.content_type {
            builder = builder.header("content-type", ct);
        }
        if let Some(range) = &call.content_range {
            builder = builder.header("content-range", range);
        }
        // The whole exchange, answer body included, ends by the overall deadline.
        let remaining = self.deadline.remaining();
        if remaining.is_some_and(|r| r.is_zero()) {
            return Err(AttemptError::Deadline);
        }
        let result = match call.payload {
            Payload::Empty => builder.body(()).map(|r| self.run(r, remaining)),
            Payload::Bytes(bytes) => builder.body(bytes).map(|r| self.run(r, remaining)),
            Payload::File(path) => {
                let file = File::open(path).map_err(|e| {
                    AttemptError::Fatal(format!("cannot open {}: {e}", path.display()))
                })?;
                builder.body(file).map(|r| self.run(r, remaining))
            }
        };
        let mut response = result
            .map_err(|e| AttemptError::Fatal(format!("cannot build request {}: {e}", call.method)))?
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                matches!(
                    name.as_str(),
                    "location"
                        | "docker-content-digest"
                        | "www-authenticate"
                        | "retry-after"
                        | "content-type"
                        | "content-length"
                        | "range"
                )
            })
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = if call.method == "HEAD" {
            Vec::new()
        } else {
            response
                .body_mut()
                .with_config()
                .limit(BODY_LIMIT)
                .read_to_vec()
                .map_err(|e| self.transport_error(&e))?
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

fn read_ca_file(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, RegistryError> {
    let pem = std::fs::read(path).map_err(|e| {
        RegistryError::Setup(format!("--ca-file {}: cannot read: {e}", path.display()))
    })?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(RegistryError::Setup(format!(
                    "--ca-file {}: not a PEM certificate file: {e}",
                    path.display()
                )))
            }
        }
    }
    if certs.is_empty() {
        return Err(RegistryError::Setup(format!(
            "--ca-file {}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

impl Client {
    /// Run one request, bounded by `remaining` of the overall deadline.
    fn run<B: ureq::AsSendBody>(
        &self,
        request: ureq::http::Request<B>,
        remaining: Option<Duration>,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let request = self
            .agent
            .configure_request(request)
            .timeout_per_call(remaining)
            .build();
        self.agent.run(request)
    }

    /// [`transport_error`], with timeouts told apart: the overall deadline, or a stall.
    fn transport_error(&self, e: &ureq::Error) -> AttemptError {
        if self.deadline.passed() {
            return AttemptError::Deadline;
        }
        match e {
            ureq::Error::Timeout(t) => AttemptError::Retryable {
                failure: Failure::Connection,
                detail: stall_detail(*t, self.limits.stall),
            },
            _ => transport_error(e),
        }
    }
}

/// What a stall timeout means, for people.
fn stall_detail(t: ureq::Timeout, stall: Duration) -> String {
    use ureq::Timeout as T;
    let limit = crate::registry::limits::show(stall);
    let what = match t {
        T::Connect | T::Resolve => {
            format!("no connection (TCP and TLS handshake) within {limit}")
        }
        T::PerWrite | T::SendRequest | T::SendBody => {
            format!("the registry took none of the request for {limit} (stopped reading)")
        }
        _ => format!("the registry sent nothing for {limit} (stopped answering)"),
    };
    format!("{what}{STALL_HINT}")
}

/// Where a stall's limit comes from, for people.
pub(super) const STALL_HINT: &str = "; the limit is --stall-timeout / SHIP_STALL_TIMEOUT";

/// Classify a transport error for retrying, with a message for people.
fn transport_error(e: &ureq::Error) -> AttemptError {
    use std::io::ErrorKind as K;
    let transient = match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::TimedOut
                | K::NotConnected
                | K::Interrupted
        ),
        ureq::Error::ConnectionFailed | ureq::Error::Timeout(_) | ureq::Error::Protocol(_) => true,
        _ => false,
    };
    // rustls failures during the handshake surface as io errors wrapping rustls::Error.
    let text = e.to_string().to_ascii_lowercase();
    let tls = matches!(
        e,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_)
    ) || text.contains("certificate")
        || text.contains("handshake");
    let detail = if tls {
        format!("TLS: {e} (if the registry's certificate is self-made or from its own CA, pass that certificate or CA with --ca-file)")
    } else {
        format!("connection failed: {e}")
    };
    if transient {
        AttemptError::Retryable {
            failure: Failure::Connection,
            detail,
        }
    } else {
        AttemptError::Fatal(detail)
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// `CODE: message; CODE: message` from an OCI error body.
fn registry_errors(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let parsed: Errors = serde_json::from_slice(body).ok()?;
    if parsed.errors.is_empty() {
        return None;
    }
    Some(
        parsed
            .errors
            .iter()
            .map(|e| truncate(&format!("{}: {}", e.code, e.message), 200))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
pub(super) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_summarised() {
        let a = Answer {
            status: 404,
            headers: vec![],
            body: br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#.to_vec(),
        };
        assert_eq!(
            a.describe(),
            "404 Not Found: MANIFEST_UNKNOWN: manifest unknown"
        );
        let a = Answer {
            status: 502,
            headers: vec![("Retry-After".into(), "3".into())],
            body: b"<html>\n bad   gateway </html>".to_vec(),
        };
        assert_eq!(a.describe(), "502 Bad Gateway: <html> bad gateway </html>");
        assert_eq!(a.header("retry-after"), Some("3"));
        let long = Answer {
            status: 500,
            headers: vec![],
            body: "x".repeat(1000).into_bytes(),
        };
        assert!(long.describe().len() < 300);
    }

    #[test]
    fn transport_errors_are_classified() {
        let refused = ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ));
        assert!(matches!(
            transport_error(&refused),
            AttemptError::Retryable {
                failure: Failure::Connection,
                ..
            }
        ));
        assert!(matches!(
            transport_error(&ureq::Error::HostNotFound),
            AttemptError::Fatal(_)
        ));
        match transport_error(&ureq::Error::Tls("bad cert")) {
            AttemptError::Fatal(d) => assert!(d.contains("--ca-file"), "{d}"),
            other => panic!("{other:?}"),
        }
        let wrapped = ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ));
        match transport_error(&wrapped) {
            AttemptError::Fatal(d) => {
                assert!(d.starts_with("TLS: ") && d.contains("--ca-file"), "{d}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ca_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let e = read_ca_file(&path).unwrap_err().to_string();
        assert!(
            e.contains("ca.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = read_ca_file(&dir.path().join("missing.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing.pem") && e.contains("cannot read"),
            "{e}"
        );
    }

    #[test]
    fn url_encoding() {
        assert_eq!(
            url_encode("repository:o/n:pull,push"),
            "repository%3Ao%2Fn%3Apull%2Cpush"
        );
        assert_eq!(url_encode("sha256:ab"), "sha256%3Aab");
        assert_eq!(url_encode("a-b_c.d~"), "a-b_c.d~");
    }
}
