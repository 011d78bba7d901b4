//! Answering a registry's auth challenge: basic credentials, or a bearer token fetched from
//! the realm the `WWW-Authenticate` header names, cached per repository.

use super::http::{url_encode, Answer, AttemptError, Call};
use super::{Client, SchemeRule};
use crate::registry::auth::{self, Secret};
use crate::registry::reference;
use crate::registry::reference::Repository;
use crate::registry::retry::{self, Failure};

impl Client {
    pub(super) fn unauthorized(&self, answer: &Answer) -> String {
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

    pub(super) fn cached_auth(&self, repo: &Repository) -> Option<Secret> {
        let cache = self.auth_cache.lock().ok()?;
        cache.get(repo.path()).or_else(|| cache.get("")).cloned()
    }

    pub(super) fn remember_auth(&self, key: &str, value: Secret) {
        if let Ok(mut cache) = self.auth_cache.lock() {
            cache.insert(key.to_owned(), value);
        }
    }

    /// Answer the challenge in a 401: basic with the credentials, or a bearer token from the
    /// realm for pull+push on the repository.
    pub(super) fn authenticate(
        &self,
        repo: &Repository,
        answer: &Answer,
    ) -> Result<(), AttemptError> {
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

    pub(super) fn fetch_token(
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
}
