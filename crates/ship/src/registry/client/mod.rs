//! The OCI Distribution HTTP client: one per registry host. It chooses the scheme, answers
//! auth challenges (basic, or bearer tokens from the realm the registry names), retries
//! transient failures with [`RetryPolicy`], and turns everything else into an error that names
//! the registry, the repository and the step.

mod api;
mod challenge;
mod http;
mod tls;
mod upload;

pub use api::FetchedBytes;
pub(crate) use http::{Answer, AttemptError, Call, Payload};
pub use upload::{UploadOptions, DEFAULT_CHUNK_SIZE};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;

use super::auth::{self, Credentials, Secret};
use super::limits::{Deadline, Limits};
use super::reference::{self, Repository};
use super::retry::{self, Decision, Failure, RetryPolicy};
use super::RegistryError;

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
    /// Stall and overall time limits on talking to the registry.
    pub limits: Limits,
    /// Monolithic or chunked blob uploads.
    pub uploads: UploadOptions,
    /// Repositories of the same registry to mount missing blobs from before uploading them
    /// (tried in order; a registry that cannot mount one just gets the upload).
    pub mount_from: Vec<Repository>,
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
    limits: Limits,
    deadline: Deadline,
    uploads: UploadOptions,
    mount_from: Vec<Repository>,
    /// Set by a 413 to a monolithic upload: chunks from then on.
    chunked_after_413: AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.registry)
            .field("scheme_rule", &self.scheme_rule)
            .field("credentials", &self.credentials)
            .field("retry", &self.retry)
            .field("limits", &self.limits)
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

impl Client {
    /// A client for `registry` (as in [`Repository::registry`]) with exactly these options.
    pub fn new(registry: &str, options: ClientOptions) -> Result<Self, RegistryError> {
        if let Some(other) = options.mount_from.iter().find(|r| r.registry() != registry) {
            return Err(RegistryError::Setup(format!(
                "--mount-from {other}: not in {registry}; blobs mount only within one registry"
            )));
        }
        Ok(Self {
            registry: registry.to_owned(),
            host: reference::api_host(registry).to_owned(),
            agent: http::agent(options.ca_file.as_deref(), options.limits.stall)?,
            scheme_rule: scheme_rule(registry, options.insecure_http, options.ca_file.is_some()),
            scheme: Mutex::new(None),
            credentials: options.credentials,
            auth_cache: Mutex::new(HashMap::new()),
            retry: options.retry,
            retries: AtomicU32::new(0),
            limits: options.limits,
            deadline: Deadline::new(options.limits.overall),
            uploads: options.uploads,
            mount_from: options.mount_from,
            chunked_after_413: AtomicBool::new(false),
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

    /// The repositories to mount missing blobs from.
    pub fn mount_sources(&self) -> &[Repository] {
        &self.mount_from
    }

    /// Retries made so far by this client (transient failures ridden out).
    pub fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }

    /// `scheme://host`. On loopback without a CA file the scheme is probed once and
    /// remembered; a probe that reaches nothing is an error (retried like any failed
    /// connection), never a silent guess that would probe again on every request.
    pub(super) fn base_url(&self) -> Result<String, AttemptError> {
        let cached = self.scheme.lock().ok().and_then(|s| *s);
        let scheme = match (cached, self.scheme_rule) {
            (Some(s), _) => s,
            (None, SchemeRule::Https) => "https",
            (None, SchemeRule::Http) => "http",
            (None, SchemeRule::Probe) => {
                let s = self.probe_scheme()?;
                if let Ok(mut slot) = self.scheme.lock() {
                    *slot = Some(s);
                }
                s
            }
        };
        Ok(format!("{scheme}://{}", self.host))
    }

    /// HTTPS if the loopback server answers it; plain HTTP if only that gets an answer that
    /// is not Go's "Client sent an HTTP request to an HTTPS server".
    fn probe_scheme(&self) -> Result<&'static str, AttemptError> {
        let https = format!("https://{}/v2/", self.host);
        let https_error = match self.send(&Call::new("GET", https.clone()), &https, None) {
            Ok(_) => return Ok("https"),
            Err(e) => e,
        };
        if self.deadline.passed() {
            return Err(https_error);
        }
        let http = format!("http://{}/v2/", self.host);
        match self.send(&Call::new("GET", http.clone()), &http, None) {
            Ok(answer) => {
                let tls_only = answer.status == 400
                    && String::from_utf8_lossy(&answer.body).contains("HTTPS server");
                Ok(if tls_only { "https" } else { "http" })
            }
            Err(http_error) => Err(probe_failed(https_error, http_error)),
        }
    }

    /// Whether plain HTTP gets Go's "Client sent an HTTP request to an HTTPS server" (a
    /// HEAD's 400 has no body to say so, hence a GET of /v2/).
    fn answers_https_only(&self) -> bool {
        let url = format!("http://{}/v2/", self.host);
        self.send(&Call::new("GET", url.clone()), &url, None)
            .is_ok_and(|a| {
                a.status == 400 && String::from_utf8_lossy(&a.body).contains("HTTPS server")
            })
    }

    pub(super) fn url(&self, target: &str) -> Result<String, AttemptError> {
        if target.starts_with("http://") || target.starts_with("https://") {
            Ok(target.to_owned())
        } else {
            Ok(format!("{}{target}", self.base_url()?))
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
            if self.deadline.passed() {
                return Err(self.deadline_error(repo, step, attempt - 1));
            }
            match op() {
                Ok(v) => return Ok(v),
                Err(AttemptError::Fatal(detail)) => {
                    return Err(RegistryError::request(repo, step, detail))
                }
                Err(AttemptError::Deadline) => {
                    return Err(self.deadline_error(repo, step, attempt));
                }
                Err(AttemptError::Retryable { failure, detail }) => {
                    let decision = self.retry.decide(attempt, failure);
                    let remaining = self.deadline.remaining();
                    match decision {
                        Decision::RetryAfter(wait) if remaining.is_none_or(|r| r > wait) => {
                            self.retries.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(wait);
                            attempt += 1;
                        }
                        Decision::RetryAfter(_) => {
                            return Err(self.deadline_error(repo, step, attempt));
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

    fn deadline_error(&self, repo: &Repository, step: &str, attempts: u32) -> RegistryError {
        let tried = match attempts {
            0 => String::new(),
            1 => " (after 1 attempt)".to_owned(),
            n => format!(" (after {n} attempts)"),
        };
        RegistryError::Deadline {
            target: repo.to_string(),
            step: step.to_owned(),
            detail: format!("{}{tried}", self.deadline.message()),
        }
    }

    /// One attempt of `call`, answering an auth challenge once if the registry sends one.
    /// Transient statuses come back as `Retryable`; any other status is the caller's to judge.
    pub(crate) fn attempt(
        &self,
        repo: &Repository,
        call: &Call<'_>,
    ) -> Result<Answer, AttemptError> {
        let url = self.url(&call.target)?;
        let same_host = url.starts_with(&self.base_url()?);
        let mut authenticated = false;
        loop {
            let auth = if same_host {
                self.cached_auth(repo)
            } else {
                None
            };
            let answer = self.send(call, &url, auth.as_ref())?;
            if answer.status == 400 && url.starts_with("http://") && self.answers_https_only() {
                return Err(AttemptError::Fatal(format!(
                    "the registry speaks HTTPS on this port: it answered plain HTTP with {}; drop --insecure-http (and pass its certificate or CA with --ca-file if no public CA signed it)",
                    answer.describe()
                )));
            }
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
}

/// Neither scheme reached the loopback registry: both failures, one reason each.
fn probe_failed(https: AttemptError, http: AttemptError) -> AttemptError {
    let detail = |e: &AttemptError| match e {
        AttemptError::Retryable { detail, .. } | AttemptError::Fatal(detail) => detail.clone(),
        AttemptError::Deadline => "deadline".to_owned(),
    };
    // A stall's hint is said once for both.
    let hint = http::STALL_HINT;
    let (a, b) = (detail(&https), detail(&http));
    let stalled = a.contains(hint) || b.contains(hint);
    let text = format!(
        "no answer over HTTPS ({}) nor plain HTTP ({}){}",
        a.replace(hint, ""),
        b.replace(hint, ""),
        if stalled { hint } else { "" }
    );
    match http {
        AttemptError::Deadline => AttemptError::Deadline,
        AttemptError::Retryable { failure, .. } => AttemptError::Retryable {
            failure,
            detail: text,
        },
        AttemptError::Fatal(_) => AttemptError::Fatal(text),
    }
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
