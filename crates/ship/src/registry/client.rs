//! The OCI Distribution HTTP client: one per registry host. It chooses the scheme, answers
//! auth challenges (basic, or bearer tokens from the realm the registry names), retries
//! transient failures with [`RetryPolicy`], and turns everything else into an error that names
//! the registry, the repository and the step.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::oci::Digest;

use super::auth::{self, Credentials, Secret};
use super::reference::{self, Repository};
use super::retry::{self, Decision, Failure, RetryPolicy};
use super::RegistryError;

/// The most ship reads of a manifest, config or error body.
const BODY_LIMIT: u64 = 16 << 20;

/// How to reach and authenticate to a registry.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Explicit credentials; when `None`, [`Client::from_env`] looks in the auth files.
    pub credentials: Option<Credentials>,
    /// PEM file of the CA certificate(s) to trust instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// Speak plain HTTP (only ever needed for a non-loopback registry without TLS).
    pub insecure_http: bool,
    pub retry: RetryPolicy,
}

/// A client for one registry host. Cheap to share by reference; safe across threads.
pub struct Client {
    registry: String,
    host: String,
    agent: ureq::Agent,
    scheme_rule: SchemeRule,
    /// Decided on first use (probing, for loopback); unset while nothing answered.
    scheme: Mutex<Option<&'static str>>,
    credentials: Option<Credentials>,
    /// Authorization header values: by repository path for bearer tokens, "" for basic.
    auth_cache: Mutex<HashMap<String, Secret>>,
    retry: RetryPolicy,
    retries: AtomicU32,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.registry)
            .field("scheme_rule", &self.scheme_rule)
            .field("credentials", &self.credentials)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SchemeRule {
    Https,
    Http,
    /// Loopback without a CA file: HTTPS if the server speaks it, else plain HTTP.
    Probe,
}

/// Pure: the scheme rule for a registry. Plain HTTP only when asked, or (probed) on loopback.
fn scheme_rule(registry: &str, insecure_http: bool, has_ca_file: bool) -> SchemeRule {
    if insecure_http {
        SchemeRule::Http
    } else if reference::is_loopback(registry) && !has_ca_file {
        SchemeRule::Probe
    } else {
        SchemeRule::Https
    }
}

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
    pub payload: Payload<'a>,
}

impl<'a> Call<'a> {
    pub fn new(method: &'static str, target: String) -> Self {
        Self {
            method,
            target,
            accept: None,
            content_type: None,
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

/// A manifest as fetched: its bytes and the Content-Type the registry gave.
#[derive(Debug, Clone)]
pub struct FetchedBytes {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// Worth another try if the policy allows.
    Retryable { failure: Failure, detail: String },
    /// Stop now.
    Fatal(String),
}

impl Client {
    /// A client for `registry` (as in [`Repository::registry`]) with exactly these options.
    pub fn new(registry: &str, options: ClientOptions) -> Result<Self, RegistryError> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = &options.ca_file {
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(
                read_ca_file(path)?,
            )));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("ship/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(300)))
            .max_redirects(5)
            .build()
            .into();
        Ok(Self {
            registry: registry.to_owned(),
            host: reference::api_host(registry).to_owned(),
            agent,
            scheme_rule: scheme_rule(registry, options.insecure_http, options.ca_file.is_some()),
            scheme: Mutex::new(None),
            credentials: options.credentials,
            auth_cache: Mutex::new(HashMap::new()),
            retry: options.retry,
            retries: AtomicU32::new(0),
        })
    }

    /// Like [`Client::new`], but when no credentials are given, looks for them for
    /// `repository` in the docker/podman auth files named by the environment
    /// (`$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
    /// `~/.config/containers/auth.json`, `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json`, and the credential helpers they name). Nothing found means
    /// anonymous access.
    pub fn from_env(
        repository: &Repository,
        mut options: ClientOptions,
    ) -> Result<Self, RegistryError> {
        if options.credentials.is_none() {
            let env = |k: &str| std::env::var(k).ok();
            options.credentials =
                auth::credentials_from_auth_files(repository.registry(), repository.path(), &env)?;
        }
        Self::new(repository.registry(), options)
    }

    /// The registry this client talks to, as named.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Where the credentials in use came from, if any (never the secret itself).
    pub fn credential_source(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.source.as_str())
    }

    /// Retries made so far by this client (transient failures ridden out).
    pub fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }

    fn base_url(&self) -> String {
        let cached = self.scheme.lock().ok().and_then(|s| *s);
        let scheme = match (cached, self.scheme_rule) {
            (Some(s), _) => s,
            (None, SchemeRule::Https) => "https",
            (None, SchemeRule::Http) => "http",
            (None, SchemeRule::Probe) => match self.probe_scheme() {
                Some(s) => {
                    if let Ok(mut slot) = self.scheme.lock() {
                        *slot = Some(s);
                    }
                    s
                }
                // Nothing answers (yet): try HTTPS now, probe again next time.
                None => "https",
            },
        };
        format!("{scheme}://{}", self.host)
    }

    /// HTTPS if the loopback server answers it; plain HTTP if only that gets an answer that
    /// is not Go's "Client sent an HTTP request to an HTTPS server".
    fn probe_scheme(&self) -> Option<&'static str> {
        let https = format!("https://{}/v2/", self.host);
        if self.agent.get(&https).call().is_ok() {
            return Some("https");
        }
        let http = format!("http://{}/v2/", self.host);
        match self.agent.get(&http).call() {
            Ok(mut resp) => {
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(4096)
                    .read_to_vec()
                    .unwrap_or_default();
                let tls_only = resp.status().as_u16() == 400
                    && String::from_utf8_lossy(&body).contains("HTTPS server");
                Some(if tls_only { "https" } else { "http" })
            }
            Err(_) => None,
        }
    }

    fn url(&self, target: &str) -> String {
        if target.starts_with("http://") || target.starts_with("https://") {
            target.to_owned()
        } else {
            format!("{}{target}", self.base_url())
        }
    }

    /// Run `op` under the retry policy. `step` names what is being done, for the error.
    pub(crate) fn retrying<T>(
        &self,
        repo: &Repository,
        step: &str,
        mut op: impl FnMut() -> Result<T, AttemptError>,
    ) -> Result<T, RegistryError> {
        let mut attempt = 1;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(AttemptError::Fatal(detail)) => {
                    return Err(RegistryError::request(repo, step, detail))
                }
                Err(AttemptError::Retryable { failure, detail }) => {
                    match self.retry.decide(attempt, failure) {
                        Decision::RetryAfter(wait) => {
                            self.retries.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(wait);
                            attempt += 1;
                        }
                        Decision::GiveUp => {
                            let detail = if attempt > 1 {
                                format!("{detail} (gave up after {attempt} attempts)")
                            } else {
                                detail
                            };
                            return Err(RegistryError::request(repo, step, detail));
                        }
                    }
                }
            }
        }
    }

    /// One attempt of `call`, answering an auth challenge once if the registry sends one.
    /// Transient statuses come back as `Retryable`; any other status is the caller's to judge.
    pub(crate) fn attempt(
        &self,
        repo: &Repository,
        call: &Call<'_>,
    ) -> Result<Answer, AttemptError> {
        let url = self.url(&call.target);
        let same_host = url.starts_with(&self.base_url());
        let mut authenticated = false;
        loop {
            let auth = if same_host {
                self.cached_auth(repo)
            } else {
                None
            };
            let answer = self.send(call, &url, auth.as_ref())?;
            if answer.status == 401 && same_host && !authenticated {
                self.authenticate(repo, &answer)?;
                authenticated = true;
                continue;
            }
            if answer.status == 401 {
                return Err(AttemptError::Fatal(self.unauthorized(&answer)));
            }
            if retry::is_transient_status(answer.status) {
                let retry_after = answer
                    .header("retry-after")
                    .and_then(retry::parse_retry_after);
                return Err(AttemptError::Retryable {
                    failure: Failure::Status {
                        code: answer.status,
                        retry_after,
                    },
                    detail: answer.describe(),
                });
            }
            return Ok(answer);
        }
    }

    fn unauthorized(&self, answer: &Answer) -> String {
        match &self.credentials {
            Some(c) => format!(
                "{}; the registry refused the credentials of user {:?} from {}",
                answer.describe(),
                c.username,
                c.source
            ),
            None => format!(
                "{}; no credentials were found for {} (pass --username with the password in $SHIP_REGISTRY_PASSWORD, or log in with docker/podman login)",
                answer.describe(),
                self.registry
            ),
        }
    }

    fn cached_auth(&self, repo: &Repository) -> Option<Secret> {
        let cache = self.auth_cache.lock().ok()?;
        cache.get(repo.path()).or_else(|| cache.get("")).cloned()
    }

    fn remember_auth(&self, key: &str, value: Secret) {
        if let Ok(mut cache) = self.auth_cache.lock() {
            cache.insert(key.to_owned(), value);
        }
    }

    /// Answer the challenge in a 401: basic with the credentials, or a bearer token from the
    /// realm for pull+push on the repository.
    fn authenticate(&self, repo: &Repository, answer: &Answer) -> Result<(), AttemptError> {
        let header = answer.header("www-authenticate").unwrap_or_default();
        let challenges = auth::parse_www_authenticate(header);
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let realm = bearer.param("realm").ok_or_else(|| {
                AttemptError::Fatal(format!(
                    "{}: the bearer challenge names no realm",
                    answer.describe()
                ))
            })?;
            let token = self.fetch_token(realm, bearer.param("service"), repo)?;
            self.remember_auth(
                repo.path(),
                Secret::new(format!("Bearer {}", token.expose())),
            );
            return Ok(());
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            return match &self.credentials {
                Some(c) => {
                    self.remember_auth("", Secret::new(c.basic_header()));
                    Ok(())
                }
                None => Err(AttemptError::Fatal(self.unauthorized(answer))),
            };
        }
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        Err(AttemptError::Fatal(format!(
            "{}; unsupported authentication scheme(s) {:?} (ship speaks basic and bearer)",
            answer.describe(),
            schemes
        )))
    }

    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        repo: &Repository,
    ) -> Result<Secret, AttemptError> {
        let realm_is_https = realm.starts_with("https://");
        let realm_host = realm
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_default();
        if !realm_is_https && !realm.starts_with("http://") {
            return Err(AttemptError::Fatal(format!(
                "the registry's token realm {realm:?} is not an http(s) URL"
            )));
        }
        if !realm_is_https
            && self.credentials.is_some()
            && self.scheme_rule == SchemeRule::Https
            && !reference::is_loopback(realm_host)
        {
            return Err(AttemptError::Fatal(format!(
                "the registry's token realm {realm} is plain HTTP; refusing to send credentials there (use --insecure-http to allow it)"
            )));
        }
        let mut query = Vec::new();
        if let Some(service) = service {
            query.push(format!("service={}", url_encode(service)));
        }
        query.push(format!(
            "scope={}",
            url_encode(&auth::push_scope(repo.path()))
        ));
        let sep = if realm.contains('?') { '&' } else { '?' };
        let url = format!("{realm}{sep}{}", query.join("&"));
        let auth = self
            .credentials
            .as_ref()
            .map(|c| Secret::new(c.basic_header()));
        let call = Call::new("GET", url.clone());
        let answer = self.send(&call, &url, auth.as_ref())?;
        match answer.status {
            200 => auth::parse_token_response(&answer.body).ok_or_else(|| {
                AttemptError::Fatal(format!(
                    "authenticating at {realm}: the token server's answer holds no token"
                ))
            }),
            401 | 403 => Err(AttemptError::Fatal(format!(
                "authenticating at {realm}: {}",
                self.unauthorized(&answer)
            ))),
            code if retry::is_transient_status(code) => Err(AttemptError::Retryable {
                failure: Failure::Status {
                    code,
                    retry_after: answer
                        .header("retry-after")
                        .and_then(retry::parse_retry_after),
                },
                detail: format!("authenticating at {realm}: {}", answer.describe()),
            }),
            _ => Err(AttemptError::Fatal(format!(
                "authenticating at {realm}: {}",
                answer.describe()
            ))),
        }
    }

    /// Send one request, no retries, no auth handling.
    fn send(
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
        let result = match call.payload {
            Payload::Empty => builder.body(()).map(|r| self.agent.run(r)),
            Payload::Bytes(bytes) => builder.body(bytes).map(|r| self.agent.run(r)),
            Payload::File(path) => {
                let file = File::open(path).map_err(|e| {
                    AttemptError::Fatal(format!("cannot open {}: {e}", path.display()))
                })?;
                builder.body(file).map(|r| self.agent.run(r))
            }
        };
        let mut response = result
            .map_err(|e| AttemptError::Fatal(format!("cannot build request {}: {e}", call.method)))?
            .map_err(|e| transport_error(&e))?;
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
                .map_err(|e| transport_error(&e))?
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    // ---- Distribution API operations --------------------------------------------------

    /// Whether the blob is in the repository (HEAD).
    pub fn blob_exists(
        &self,
        repo: &Repository,
        digest: &Digest,
        step: &str,
    ) -> Result<bool, RegistryError> {
        let call = Call::new("HEAD", format!("/v2/{}/blobs/{digest}", repo.path()));
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            match answer.status {
                200 => Ok(true),
                404 => Ok(false),
                _ => Err(AttemptError::Fatal(answer.describe())),
            }
        })
    }

    /// Upload a blob monolithically (POST to open an upload, PUT the bytes with the digest).
    /// A transient failure restarts the whole upload.
    pub(crate) fn upload_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        payload: Payload<'_>,
        step: &str,
    ) -> Result<(), RegistryError> {
        let start = Call::new("POST", format!("/v2/{}/blobs/uploads/", repo.path()));
        self.retrying(repo, step, || {
            let opened = self.attempt(repo, &start)?;
            if opened.status != 202 {
                return Err(AttemptError::Fatal(format!(
                    "starting the upload: {}",
                    opened.describe()
                )));
            }
            let location = opened.header("location").ok_or_else(|| {
                AttemptError::Fatal("the registry started an upload but gave no Location".into())
            })?;
            let sep = if location.contains('?') { '&' } else { '?' };
            let mut put = Call::new(
                "PUT",
                format!("{location}{sep}digest={}", url_encode(digest.as_str())),
            );
            put.content_type = Some("application/octet-stream");
            put.payload = payload;
            let done = self.attempt(repo, &put)?;
            match done.status {
                201 => Ok(()),
                _ => Err(AttemptError::Fatal(done.describe())),
            }
        })
    }

    /// Fetch a manifest by digest or tag: its bytes and media type, or `None` if absent.
    pub fn get_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        accept: &str,
        step: &str,
    ) -> Result<Option<FetchedBytes>, RegistryError> {
        let mut call = Call::new("GET", format!("/v2/{}/manifests/{reference}", repo.path()));
        call.accept = Some(accept);
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            match answer.status {
                200 => Ok(Some(FetchedBytes {
                    bytes: answer.body.clone(),
                    content_type: answer.header("content-type").map(str::to_owned),
                })),
                404 => Ok(None),
                _ => Err(AttemptError::Fatal(answer.describe())),
            }
        })
    }

    /// The digest a tag (or digest) resolves to, from HEAD's Docker-Content-Digest.
    pub fn manifest_digest(
        &self,
        repo: &Repository,
        reference: &str,
        accept: &str,
        step: &str,
    ) -> Result<Option<Digest>, RegistryError> {
        let mut call = Call::new("HEAD", format!("/v2/{}/manifests/{reference}", repo.path()));
        call.accept = Some(accept);
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            match answer.status {
                200 => Ok(answer
                    .header("docker-content-digest")
                    .and_then(|d| Digest::parse(d).ok())),
                404 => Ok(None),
                _ => Err(AttemptError::Fatal(answer.describe())),
            }
        })
    }

    /// PUT a manifest (or index) under `reference` (its digest, or a tag). Checks the digest
    /// the registry computed, when it says one, against the bytes sent.
    pub fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        step: &str,
    ) -> Result<(), RegistryError> {
        let mut call = Call::new("PUT", format!("/v2/{}/manifests/{reference}", repo.path()));
        call.content_type = Some(media_type);
        call.payload = Payload::Bytes(bytes);
        let expected = Digest::of(bytes);
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            if answer.status != 201 {
                return Err(AttemptError::Fatal(answer.describe()));
            }
            match answer.header("docker-content-digest").map(Digest::parse) {
                Some(Ok(d)) if d != expected => Err(AttemptError::Fatal(format!(
                    "the registry stored it as {d}, not {expected}"
                ))),
                _ => Ok(()),
            }
        })
    }

    /// Fetch a (small) blob, e.g. an image config; `None` if absent.
    pub fn get_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        step: &str,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let call = Call::new("GET", format!("/v2/{}/blobs/{digest}", repo.path()));
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            match answer.status {
                200 => Ok(Some(answer.body.clone())),
                404 => Ok(None),
                _ => Err(AttemptError::Fatal(answer.describe())),
            }
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
        format!("TLS: {e} (if the registry uses its own CA, pass its certificate with --ca-file)")
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
fn url_encode(s: &str) -> String {
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
    fn plain_http_only_when_asked_or_loopback() {
        assert_eq!(scheme_rule("ghcr.io", false, false), SchemeRule::Https);
        assert_eq!(scheme_rule("ghcr.io", true, false), SchemeRule::Http);
        assert_eq!(
            scheme_rule("10.0.0.5:5000", false, false),
            SchemeRule::Https
        );
        assert_eq!(
            scheme_rule("127.0.0.1:5000", false, false),
            SchemeRule::Probe
        );
        assert_eq!(
            scheme_rule("localhost:5000", false, true),
            SchemeRule::Https
        );
        assert_eq!(scheme_rule("127.0.0.1:5000", true, true), SchemeRule::Http);
    }

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
    fn url_encoding() {
        assert_eq!(
            url_encode("repository:o/n:pull,push"),
            "repository%3Ao%2Fn%3Apull%2Cpush"
        );
        assert_eq!(url_encode("sha256:ab"), "sha256%3Aab");
        assert_eq!(url_encode("a-b_c.d~"), "a-b_c.d~");
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
    fn client_debug_hides_the_secret() {
        let client = Client::new(
            "ghcr.io",
            ClientOptions {
                credentials: Some(Credentials {
                    username: "u".into(),
                    secret: Secret::new("s3cr3t-value"),
                    source: "test".into(),
                }),
                ..ClientOptions::default()
            },
        )
        .unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(shown.contains("ghcr.io"));
    }
}
