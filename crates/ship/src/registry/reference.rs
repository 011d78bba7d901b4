//! Repository references (`ghcr.io/o/n`, `127.0.0.1:5000/team/app`) and the
//! `DIGEST@PLATFORM` arguments of push-index. Pure.

use std::fmt;

use crate::oci::Digest;
use crate::platform::Platform;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid repository {value:?}: {message}")]
pub struct ReferenceError {
    pub value: String,
    pub message: String,
}

/// A repository in a registry: where images are pushed by digest and tags point.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    registry: String,
    path: String,
}

const DOCKER_HUB: &str = "docker.io";

/// Longest `registry/path` the distribution spec's reference grammar allows (its
/// NameTotalLengthMax).
const MAX_NAME_LEN: usize = 255;

/// A lone `host:port` or `localhost`: a registry named without any repository path. As for
/// docker, a host has a `.` or is localhost or an IPv6 literal; `alpine:3` is a name and tag.
fn names_a_host(s: &str) -> bool {
    let host_like = |h: &str| h == "localhost" || h.contains('.') || h.starts_with('[');
    s == "localhost"
        || s.rsplit_once(':').is_some_and(|(host, port)| {
            host_like(host) && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
        })
}

impl Repository {
    /// Parse `REGISTRY/PATH` (e.g. `ghcr.io/o/n`, `127.0.0.1:5000/team/app`). As docker does,
    /// a first component without `.` or `:` that is not `localhost` means Docker Hub
    /// (`o/n` -> `docker.io/o/n`, `n` -> `docker.io/library/n`). A tag or digest is refused:
    /// images are pushed by digest and tags are given to push-index.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let err = |message: &str| ReferenceError {
            value: s.to_owned(),
            message: message.to_owned(),
        };
        if s.contains("://") {
            return Err(err(
                "give REGISTRY/PATH without a scheme (plain HTTP is chosen with --insecure-http)",
            ));
        }
        if s.contains('@') {
            return Err(err(
                "a tag or digest does not belong here: give the repository without @digest (ship pushes by digest itself)",
            ));
        }
        let (first, rest) = match s.split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (s, None),
        };
        if rest.is_none() && names_a_host(first) {
            return Err(err(
                "the repository path is missing: give REGISTRY/PATH, e.g. 127.0.0.1:5000/team/app or ghcr.io/OWNER/NAME",
            ));
        }
        let is_host = first.contains('.') || first.contains(':') || first == "localhost";
        let (registry, path) = match rest {
            Some(rest) if is_host => (first.to_owned(), rest.to_owned()),
            Some(_) => (DOCKER_HUB.to_owned(), s.to_owned()),
            None => (DOCKER_HUB.to_owned(), format!("library/{s}")),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
            _ => registry,
        };
        check_host(&registry).map_err(|m| err(&m))?;
        if path.is_empty() {
            return Err(err("the repository path is empty"));
        }
        if path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
        {
            return Err(err(
                "a tag or digest does not belong here: give the repository without :tag (images are pushed by digest; tags are set by push-index --tag)",
            ));
        }
        for component in path.split('/') {
            check_component(component).map_err(|m| err(&m))?;
        }
        if registry.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(err(&format!(
                "longer than the {MAX_NAME_LEN} characters registries accept"
            )));
        }
        Ok(Self { registry, path })
    }

    /// The registry as named (`ghcr.io`, `127.0.0.1:5000`, `docker.io`): the key for auth files.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry (`o/n`).
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

impl std::str::FromStr for Repository {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, ReferenceError> {
        Self::parse(s)
    }
}

/// The host the registry API is served from (Docker Hub's differs from its name).
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        "registry-1.docker.io"
    } else {
        registry
    }
}

/// Whether `registry` (host or host:port) is a loopback address, where plain HTTP is allowed
/// without being asked.
pub fn is_loopback(registry: &str) -> bool {
    let host = host_part(registry);
    if host == "localhost" {
        return true;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn host_part(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        // [::1]:5000
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => registry,
    }
}

fn check_host(registry: &str) -> Result<(), String> {
    let ok = !registry.is_empty()
        && registry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("{registry:?} is not a registry host[:port]"))
    }
}

/// One path component, as the distribution spec's grammar has it (distribution/reference
/// regexp.go, `path-component := alpha-numeric (separator alpha-numeric)*`,
/// `separator := /[_.]|__|[-]+/`): lowercase letters and digits, separated by one `.`, one
/// or two `_`, or any number of `-`.
fn check_component(c: &str) -> Result<(), String> {
    if c.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "path component `{c}` has uppercase letters; registries accept lowercase only"
        ));
    }
    let rule =
        "must be lowercase letters and digits separated by one '.', one or two '_', or dashes";
    if c.is_empty() {
        return Err(format!(
            "a path component is empty (`//` or a trailing `/`); each {rule}"
        ));
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = c.as_bytes();
    let mut i = 0;
    let mut expect_alnum = true;
    while i < bytes.len() {
        let run_end = |pred: &dyn Fn(u8) -> bool| {
            bytes[i..]
                .iter()
                .position(|&b| !pred(b))
                .map_or(bytes.len(), |n| i + n)
        };
        if expect_alnum {
            let end = run_end(&alnum);
            if end == i {
                return Err(format!("path component `{c}` {rule}"));
            }
            i = end;
        } else {
            let end = run_end(&|b| !alnum(b));
            let separator = &c[i..end];
            let ok = matches!(separator, "." | "_" | "__")
                || (!separator.is_empty() && separator.bytes().all(|b| b == b'-'));
            if !ok {
                return Err(format!(
                    "path component `{c}` has the separator `{separator}`; it {rule}"
                ));
            }
            i = end;
        }
        expect_alnum = !expect_alnum;
    }
    if expect_alnum {
        // Ended on a separator.
        return Err(format!("path component `{c}` {rule}"));
    }
    Ok(())
}

/// Parse a push-index child, `sha256:<hex>@linux/amd64`.
pub fn parse_child(s: &str) -> Result<(Digest, Platform), String> {
    let (digest, platform) = s.split_once('@').ok_or_else(|| {
        format!("{s:?}: expected DIGEST@PLATFORM, e.g. sha256:<64 hex>@linux/amd64")
    })?;
    let digest = Digest::parse(digest).map_err(|e| format!("{s:?}: {e}"))?;
    let platform = Platform::parse(platform).map_err(|e| format!("{s:?}: {e}"))?;
    Ok((digest, platform))
}

/// Whether `tag` is a valid OCI tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
pub fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registry_and_path() {
        let cases = [
            ("ghcr.io/o/n", "ghcr.io", "o/n"),
            ("127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app"),
            ("localhost/app", "localhost", "app"),
            ("localhost:5000/a/b/c", "localhost:5000", "a/b/c"),
            ("[::1]:5000/app", "[::1]:5000", "app"),
            ("o/n", "docker.io", "o/n"),
            ("alpine", "docker.io", "library/alpine"),
            ("index.docker.io/o/n", "docker.io", "o/n"),
            (
                "ghcr.io/ship-rs/demo-service",
                "ghcr.io",
                "ship-rs/demo-service",
            ),
            ("r.example/a__b/c.d-e", "r.example", "a__b/c.d-e"),
            ("r.example/a---b/c_d/e.f", "r.example", "a---b/c_d/e.f"),
        ];
        for (input, registry, path) in cases {
            let r = Repository::parse(input).unwrap();
            assert_eq!((r.registry(), r.path()), (registry, path), "{input}");
        }
        assert_eq!(
            Repository::parse("ghcr.io/o/n").unwrap().to_string(),
            "ghcr.io/o/n"
        );
    }

    #[test]
    fn refuses_bad_repositories() {
        let cases = [
            ("ghcr.io/o/n:latest", ":tag"),
            ("ghcr.io/o/n@sha256:00", "@digest"),
            ("https://ghcr.io/o/n", "scheme"),
            ("ghcr.io/Owner/n", "uppercase"),
            ("ghcr.io/o//n", "path component"),
            ("ghcr.io/", "empty"),
            ("ghcr.io/-o/n", "path component"),
            ("bad!.io/x", "registry host"),
            ("127.0.0.1:5101/a..b", "separator `..`"),
            ("127.0.0.1:5101/a___b", "separator `___`"),
            ("127.0.0.1:5101/a.-b", "separator `.-`"),
            ("127.0.0.1:5101/a_-b", "separator `_-`"),
            ("127.0.0.1:5101/ab-", "path component `ab-`"),
            ("127.0.0.1:5101/a/", "empty"),
            ("127.0.0.1:5101", "repository path is missing"),
            ("localhost", "repository path is missing"),
            ("alpine:3", ":tag"),
            ("localhost:5000", "repository path is missing"),
        ];
        for (input, needle) in cases {
            let e = Repository::parse(input).unwrap_err().to_string();
            assert!(e.contains(needle), "{input}: {e}");
            assert!(e.contains(input), "{input}: {e}");
        }
    }

    #[test]
    fn loopback_detection() {
        for yes in [
            "127.0.0.1:5000",
            "127.1.2.3",
            "localhost:80",
            "localhost",
            "[::1]:5000",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example.com",
            "docker.io",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("ghcr.io"), "ghcr.io");
    }

    #[test]
    fn parses_children() {
        let hex = "a".repeat(64);
        let (d, p) = parse_child(&format!("sha256:{hex}@linux/arm64")).unwrap();
        assert_eq!((d.hex(), p), (hex.as_str(), Platform::Arm64));
        assert!(parse_child("sha256:abc")
            .unwrap_err()
            .contains("DIGEST@PLATFORM"));
        assert!(parse_child(&format!("sha256:{hex}@linux/s390x"))
            .unwrap_err()
            .contains("linux/amd64, linux/arm64"));
        assert!(parse_child("md5:x@linux/amd64")
            .unwrap_err()
            .contains("invalid digest"));
    }

    #[test]
    fn tag_validation() {
        for ok in [
            "latest",
            "1.2.3",
            "sha-abcdef0",
            "_x",
            "feat-x",
            &"a".repeat(128),
        ] {
            assert!(is_valid_tag(ok), "{ok}");
        }
        for bad in ["", "-x", ".x", "a/b", "a:b", &"a".repeat(129)] {
            assert!(!is_valid_tag(bad), "{bad}");
        }
    }
}
