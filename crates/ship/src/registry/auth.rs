//! Registry credentials: where they come from (explicit username + secret, the docker/podman
//! auth file, a docker credential helper) and how they are presented (`WWW-Authenticate`
//! challenges, basic and bearer). Secrets are wrapped in [`Secret`], whose `Debug` and
//! `Display` never show the value.

use crate::exec::{ExecError, Process};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// A password or token. Prints as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for building a request header. Never format it into a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A username and its password or token, plus where they were found (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub secret: Secret,
    /// Where these came from, e.g. `--username and $SHIP_REGISTRY_PASSWORD` or an auth file.
    pub source: String,
}

impl Credentials {
    /// The `Authorization` header value for basic auth.
    pub fn basic_header(&self) -> String {
        basic_header(&self.username, self.secret.expose())
    }
}

pub fn basic_header(username: &str, password: &str) -> String {
    let raw = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("--username {username} is given but ${var} (which holds its password or token) is not set or empty")]
    MissingPassword { username: String, var: String },
    #[error("${var} is set but --username is not: give the user the password or token belongs to")]
    MissingUsername { var: String },
    #[error("cannot read registry auth file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("credential helper docker-credential-{helper} for {registry}: {message}")]
    Helper {
        helper: String,
        registry: String,
        message: String,
    },
}

/// An auth scheme a registry asked for, with its parameters (`realm`, `service`, `scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Lowercased: `basic` or `bearer` (others are kept so they can be named in errors).
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

/// Parse a `WWW-Authenticate` header value, which may hold several challenges:
/// `Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/n:pull"`,
/// `Basic realm="Registry Realm"`.
pub fn parse_www_authenticate(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        // A token followed by a space or the end (not by '=') starts a new challenge.
        let token_end = rest.find([' ', ',', '=']).unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = &rest[token_end..];
        if !after.trim_start().starts_with('=') && !token.is_empty() {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            rest = after.trim_start_matches([' ', ',']);
            continue;
        }
        if token.is_empty() {
            rest = after.trim_start_matches([' ', ',']);
            if after.is_empty() {
                break;
            }
            continue;
        }
        // key=value or key="quoted value"
        let value_part = after.trim_start().trim_start_matches('=').trim_start();
        let (value, remaining) = if let Some(quoted) = value_part.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, next)) = chars.next() {
                            value.push(next);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end.min(quoted.len())..])
        } else {
            let end = value_part.find([',', ' ']).unwrap_or(value_part.len());
            (value_part[..end].to_owned(), &value_part[end..])
        };
        if let Some(current) = out.last_mut() {
            current.params.insert(token.to_ascii_lowercase(), value);
        }
        rest = remaining.trim_start_matches([' ', ',']);
    }
    out
}

/// The scope ship asks a token server for: pull and push on one repository.
pub fn push_scope(repository_path: &str) -> String {
    format!("repository:{repository_path}:pull,push")
}

/// The token in a token server's JSON answer (`token`, or OAuth2's `access_token`).
pub fn parse_token_response(body: &[u8]) -> Option<Secret> {
    #[derive(serde::Deserialize)]
    struct TokenResponse {
        token: Option<String>,
        access_token: Option<String>,
    }
    let parsed: TokenResponse = serde_json::from_slice(body).ok()?;
    parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token.filter(|t| !t.is_empty()))
        .map(Secret::new)
}

/// Credentials from `--username` and the environment variable `password_var`, if a
/// username is given. `env` is `std::env::var` in production.
pub fn credentials_from_flags(
    username: Option<&str>,
    password_var: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, AuthError> {
    let password = env(password_var).filter(|p| !p.is_empty());
    match (username.filter(|u| !u.is_empty()), password) {
        (Some(username), Some(password)) => Ok(Some(Credentials {
            username: username.to_owned(),
            secret: Secret::new(password),
            source: format!("--username and ${password_var}"),
        })),
        (Some(username), None) => Err(AuthError::MissingPassword {
            username: username.to_owned(),
            var: password_var.to_owned(),
        }),
        (None, Some(_)) => Err(AuthError::MissingUsername {
            var: password_var.to_owned(),
        }),
        (None, None) => Ok(None),
    }
}

/// Auth files in the order they are searched, from the environment (`env` is
/// `std::env::var` in production, a map in tests): `$REGISTRY_AUTH_FILE`,
/// `$XDG_RUNTIME_DIR/containers/auth.json`, `$XDG_CONFIG_HOME/containers/auth.json`
/// (`~/.config`), `$DOCKER_CONFIG/config.json` (`~/.docker`): podman's order, then docker's.
pub fn auth_file_candidates(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = env("REGISTRY_AUTH_FILE").filter(|s| !s.is_empty()) {
        out.push(PathBuf::from(p));
    }
    if let Some(dir) = env("XDG_RUNTIME_DIR").filter(|s| !s.is_empty()) {
        out.push(Path::new(&dir).join("containers/auth.json"));
    }
    let home = env("HOME").filter(|s| !s.is_empty());
    match env("XDG_CONFIG_HOME").filter(|s| !s.is_empty()) {
        Some(dir) => out.push(Path::new(&dir).join("containers/auth.json")),
        None => {
            if let Some(h) = &home {
                out.push(Path::new(h).join(".config/containers/auth.json"));
            }
        }
    }
    match env("DOCKER_CONFIG").filter(|s| !s.is_empty()) {
        Some(dir) => out.push(Path::new(&dir).join("config.json")),
        None => {
            if let Some(h) = &home {
                out.push(Path::new(h).join(".docker/config.json"));
            }
        }
    }
    out
}

/// The parts of a docker `config.json` / containers `auth.json` that hold credentials.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Clone, Default, serde::Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

impl fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthEntry(<redacted>)")
    }
}

/// What an auth file says about one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAuth {
    Credentials {
        username: String,
        secret: Secret,
    },
    /// Ask `docker-credential-<helper>`.
    Helper(String),
}

impl AuthFile {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Credentials for `registry` (and repository `path`, for podman's per-namespace keys):
    /// the most specific `auths` key wins; keys may carry a scheme or `/v1/` suffix. Then
    /// `credHelpers`, then `credsStore`.
    pub fn lookup(&self, registry: &str, path: &str) -> Result<Option<FileAuth>, String> {
        let wanted = format!("{registry}/{path}");
        let mut best: Option<(usize, &String, &AuthEntry)> = None;
        for (key, entry) in &self.auths {
            let norm = normalize_key(key);
            let matches = norm == registry
                || (norm.starts_with(&format!("{registry}/"))
                    && (wanted == norm || wanted.starts_with(&format!("{norm}/"))));
            if matches && best.is_none_or(|(len, _, _)| norm.len() > len) {
                best = Some((norm.len(), key, entry));
            }
        }
        if let Some((_, key, entry)) = best {
            if let Some(found) =
                entry_credentials(entry).map_err(|m| format!("auths[{key:?}]: {m}"))?
            {
                return Ok(Some(found));
            }
        }
        for (key, helper) in &self.cred_helpers {
            if normalize_key(key) == registry {
                return Ok(Some(FileAuth::Helper(helper.clone())));
            }
        }
        Ok(self
            .creds_store
            .clone()
            .filter(|s| !s.is_empty())
            .map(FileAuth::Helper))
    }
}

/// `https://index.docker.io/v1/` -> `docker.io`, `http://r:5000` -> `r:5000`.
fn normalize_key(key: &str) -> String {
    let key = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let key = key
        .strip_suffix("/v1")
        .or(key.strip_suffix("/v2"))
        .unwrap_or(key);
    match key {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        k => match k.split_once('/') {
            Some(("index.docker.io" | "registry-1.docker.io", rest)) => format!("docker.io/{rest}"),
            _ => k.to_owned(),
        },
    }
}

fn entry_credentials(entry: &AuthEntry) -> Result<Option<FileAuth>, String> {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| "\"auth\" is not base64".to_owned())?;
        let decoded = String::from_utf8(decoded).map_err(|_| "\"auth\" is not UTF-8".to_owned())?;
        let (user, secret) = decoded
            .split_once(':')
            .ok_or_else(|| "\"auth\" does not decode to username:password".to_owned())?;
        return Ok(Some(FileAuth::Credentials {
            username: user.to_owned(),
            secret: Secret::new(secret),
        }));
    }
    if let (Some(user), Some(pass)) = (&entry.username, &entry.password) {
        return Ok(Some(FileAuth::Credentials {
            username: user.clone(),
            secret: Secret::new(pass.clone()),
        }));
    }
    if entry
        .identitytoken
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        return Err(
            "identity tokens (docker login with OAuth) are not supported; use a username and token"
                .into(),
        );
    }
    Ok(None)
}

/// Look `registry` up in the auth files named by the environment; the first file that has
/// an entry wins. A missing file is skipped; an unreadable or malformed one is an error.
pub fn credentials_from_auth_files(
    registry: &str,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, AuthError> {
    for file in auth_file_candidates(env) {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(AuthError::File {
                    path: file,
                    message: e.to_string(),
                })
            }
        };
        let parsed = AuthFile::parse(&text).map_err(|message| AuthError::File {
            path: file.clone(),
            message,
        })?;
        let found = parsed
            .lookup(registry, path)
            .map_err(|message| AuthError::File {
                path: file.clone(),
                message,
            })?;
        match found {
            Some(FileAuth::Credentials { username, secret }) => {
                return Ok(Some(Credentials {
                    username,
                    secret,
                    source: format!("auth file {}", file.display()),
                }))
            }
            Some(FileAuth::Helper(helper)) => {
                return run_helper(&helper, registry).map(|c| {
                    c.map(|(username, secret)| Credentials {
                        username,
                        secret,
                        source: format!("docker-credential-{helper} (named in {})", file.display()),
                    })
                })
            }
            None => {}
        }
    }
    Ok(None)
}

/// Ask a docker credential helper (`docker-credential-NAME get`, server on stdin).
fn run_helper(helper: &str, registry: &str) -> Result<Option<(String, Secret)>, AuthError> {
    let fail = |message: String| AuthError::Helper {
        helper: helper.to_owned(),
        registry: registry.to_owned(),
        message,
    };
    let server = if registry == "docker.io" {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    let out = match Process::new(format!("docker-credential-{helper}"))
        .args(&["get"])
        .stdin(server.as_bytes().to_vec())
        .output()
    {
        Ok(out) => out,
        // A config copied from a desktop machine names a helper this machine lacks: that is
        // "no stored credentials", as docker treats it, not a reason to fail.
        Err(ExecError::Spawn { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(fail(format!("cannot run it: {e}"))),
    };
    if !out.status.success() {
        // "credentials not found" is the helper's way of saying "nothing stored".
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    struct HelperAnswer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let answer: HelperAnswer =
        serde_json::from_slice(&out.stdout).map_err(|e| fail(format!("unexpected answer: {e}")))?;
    if answer.username == "<token>" {
        return Err(fail(
            "it holds an identity token, which ship does not support; log in with a username and token".into(),
        ));
    }
    Ok(Some((answer.username, Secret::new(answer.secret))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let c = Credentials {
            username: "me".into(),
            secret: Secret::new("hunter2"),
            source: "test".into(),
        };
        let shown = format!("{c:?} {} {:?}", c.secret, c.secret);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(c.basic_header(), "Basic bWU6aHVudGVyMg==");
    }

    #[test]
    fn credentials_from_username_and_env() {
        let env = |k: &str| (k == "TOKEN").then(|| "t0ken".to_owned());
        let c = credentials_from_flags(Some("bot"), "TOKEN", &env)
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.secret.expose()), ("bot", "t0ken"));
        assert_eq!(c.source, "--username and $TOKEN");
        let e = credentials_from_flags(Some("bot"), "OTHER", &env).unwrap_err();
        assert!(e.to_string().contains("$OTHER"), "{e}");
        let e = credentials_from_flags(None, "TOKEN", &env).unwrap_err();
        assert!(e.to_string().contains("--username"), "{e}");
        assert!(!e.to_string().contains("t0ken"));
        assert_eq!(credentials_from_flags(None, "OTHER", &env).unwrap(), None);
    }

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let c = parse_www_authenticate(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/n:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://ghcr.io/token"));
        assert_eq!(c[0].param("service"), Some("ghcr.io"));
        assert_eq!(c[0].param("scope"), Some("repository:o/n:pull"));

        let c = parse_www_authenticate(r#"Basic realm="Registry Realm""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("Registry Realm"));

        // Several challenges, unquoted values, escapes and a comma inside quotes.
        let c = parse_www_authenticate(
            r#"Basic realm=simple, Bearer realm="https://a/t", scope="repository:x/y:pull,push", error="a \"q\"""#,
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].param("realm"), Some("simple"));
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].param("scope"), Some("repository:x/y:pull,push"));
        assert_eq!(c[1].param("error"), Some(r#"a "q""#));
        assert!(parse_www_authenticate("").is_empty());
    }

    #[test]
    fn token_responses() {
        assert_eq!(
            parse_token_response(br#"{"token":"abc","expires_in":300}"#).map(|s| s.0),
            Some("abc".into())
        );
        assert_eq!(
            parse_token_response(br#"{"access_token":"xyz"}"#).map(|s| s.0),
            Some("xyz".into())
        );
        assert_eq!(parse_token_response(br#"{"token":""}"#), None);
        assert_eq!(parse_token_response(b"<html>"), None);
        assert_eq!(push_scope("o/n"), "repository:o/n:pull,push");
    }

    #[test]
    fn auth_file_candidates_follow_podman_then_docker() {
        let env = |k: &str| match k {
            "REGISTRY_AUTH_FILE" => Some("/a/auth.json".to_owned()),
            "XDG_RUNTIME_DIR" => Some("/run/user/1".to_owned()),
            "HOME" => Some("/home/u".to_owned()),
            _ => None,
        };
        assert_eq!(
            auth_file_candidates(&env),
            vec![
                PathBuf::from("/a/auth.json"),
                PathBuf::from("/run/user/1/containers/auth.json"),
                PathBuf::from("/home/u/.config/containers/auth.json"),
                PathBuf::from("/home/u/.docker/config.json"),
            ]
        );
        let env = |k: &str| match k {
            "DOCKER_CONFIG" => Some("/d".to_owned()),
            "XDG_CONFIG_HOME" => Some("/x".to_owned()),
            _ => None,
        };
        assert_eq!(
            auth_file_candidates(&env),
            vec![
                PathBuf::from("/x/containers/auth.json"),
                PathBuf::from("/d/config.json")
            ]
        );
    }

    fn creds(user: &str, pass: &str) -> Option<FileAuth> {
        Some(FileAuth::Credentials {
            username: user.into(),
            secret: Secret::new(pass),
        })
    }

    #[test]
    fn auth_file_lookup() {
        let file = AuthFile::parse(
            r#"{
              "auths": {
                "ghcr.io": {"auth": "dXNlcjpwYXNzOndpdGg6Y29sb25z"},
                "https://index.docker.io/v1/": {"auth": "aHViOmh1YnBhc3M="},
                "quay.io/team": {"username": "t", "password": "tp"},
                "quay.io": {"username": "q", "password": "qp"},
                "127.0.0.1:5000": {"auth": ""}
              },
              "credHelpers": {"123.dkr.ecr.example": "ecr-login"},
              "credsStore": "desktop"
            }"#,
        )
        .unwrap();
        assert_eq!(
            file.lookup("ghcr.io", "o/n").unwrap(),
            creds("user", "pass:with:colons")
        );
        assert_eq!(
            file.lookup("docker.io", "library/x").unwrap(),
            creds("hub", "hubpass")
        );
        assert_eq!(
            file.lookup("quay.io", "team/app").unwrap(),
            creds("t", "tp")
        );
        assert_eq!(
            file.lookup("quay.io", "teamx/app").unwrap(),
            creds("q", "qp")
        );
        assert_eq!(
            file.lookup("123.dkr.ecr.example", "a").unwrap(),
            Some(FileAuth::Helper("ecr-login".into()))
        );
        // An empty entry falls through to the default store.
        assert_eq!(
            file.lookup("127.0.0.1:5000", "a").unwrap(),
            Some(FileAuth::Helper("desktop".into()))
        );
        let plain = AuthFile::parse(r#"{"auths": {}}"#).unwrap();
        assert_eq!(plain.lookup("ghcr.io", "o/n").unwrap(), None);
        assert_eq!(AuthFile::parse("").unwrap().lookup("x", "y").unwrap(), None);

        let bad = AuthFile::parse(r#"{"auths": {"ghcr.io": {"auth": "!!!"}}}"#).unwrap();
        let e = bad.lookup("ghcr.io", "o/n").unwrap_err();
        assert!(e.contains("not base64") && e.contains("ghcr.io"), "{e}");
        assert!(AuthFile::parse("{").is_err());
    }

    #[test]
    fn auth_files_are_searched_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first.json");
        std::fs::write(&first, r#"{"auths":{"other.io":{"auth":"YTpi"}}}"#).unwrap();
        let docker = dir.path().join("docker");
        std::fs::create_dir(&docker).unwrap();
        std::fs::write(
            docker.join("config.json"),
            r#"{"auths":{"ghcr.io":{"auth":"dTpw"}}}"#,
        )
        .unwrap();
        let first_s = first.display().to_string();
        let docker_s = docker.display().to_string();
        let env = move |k: &str| match k {
            "REGISTRY_AUTH_FILE" => Some(first_s.clone()),
            "DOCKER_CONFIG" => Some(docker_s.clone()),
            _ => None,
        };
        let c = credentials_from_auth_files("ghcr.io", "o/n", &env)
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.secret.expose()), ("u", "p"));
        assert!(c.source.contains("docker/config.json"), "{}", c.source);
        let c = credentials_from_auth_files("other.io", "o/n", &env)
            .unwrap()
            .unwrap();
        assert!(c.source.contains("first.json"), "{}", c.source);
        assert_eq!(
            credentials_from_auth_files("none.io", "x", &env).unwrap(),
            None
        );

        std::fs::write(&first, "{not json").unwrap();
        let e = credentials_from_auth_files("ghcr.io", "o/n", &env).unwrap_err();
        assert!(e.to_string().contains("first.json"), "{e}");
    }
}
