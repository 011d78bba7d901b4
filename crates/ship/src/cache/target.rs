//! Where the binary cache is: `cachix:NAME` or a `nix copy` store URL, checked once, printed
//! only redacted, and the secret values it brings along (to scrub from all output).

use std::fmt;

use super::{CacheError, CACHIX_SECRET_ENVS};
use crate::redact::redact_url;

/// Store URL schemes `nix copy --to` is used with.
pub const STORE_SCHEMES: &[&str] = &["file", "s3", "http", "https", "ssh", "ssh-ng"];

/// Where to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryCache {
    /// `cachix:NAME`: the cachix CLI.
    Cachix(String),
    /// A store URL for `nix copy --to`.
    Store(String),
}

impl BinaryCache {
    pub fn parse(given: &str) -> Result<Self, CacheError> {
        let err = |reason: &str| CacheError::BinaryCache {
            given: redact_url(given),
            reason: reason.to_owned(),
        };
        if let Some(name) = given.strip_prefix("cachix:") {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            return if ok {
                Ok(Self::Cachix(name.to_owned()))
            } else {
                Err(err("not a cachix cache name"))
            };
        }
        match given.split_once("://") {
            Some((scheme, rest)) if STORE_SCHEMES.contains(&scheme) && !rest.is_empty() => {
                Ok(Self::Store(given.to_owned()))
            }
            Some((scheme, _)) if !STORE_SCHEMES.contains(&scheme) => {
                Err(err(&format!("unsupported scheme `{scheme}`")))
            }
            _ => Err(err("not a cachix name or store URL")),
        }
    }

    /// `--cache` wins over the configuration.
    pub fn select(to: Option<&str>, configured: Option<&str>) -> Result<Self, CacheError> {
        Self::parse(to.or(configured).ok_or(CacheError::NoTarget)?)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Cachix(_) => "cachix",
            Self::Store(_) => "nix-copy",
        }
    }
}

impl fmt::Display for BinaryCache {
    /// Fit to print: secrets in the URL are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cachix(name) => write!(f, "cachix:{name}"),
            Self::Store(url) => f.write_str(&redact_url(url)),
        }
    }
}

/// Secret values that must not appear in anything printed for `target`: cachix's credentials
/// from the environment; for a store URL, the signing key file named by `secret-key=` and, as
/// a second line of defence, that file's contents.
pub fn secrets_for(target: &BinaryCache) -> Vec<String> {
    let mut out = Vec::new();
    match target {
        BinaryCache::Cachix(_) => {
            for var in CACHIX_SECRET_ENVS {
                if let Ok(v) = std::env::var(var) {
                    if !v.trim().is_empty() {
                        out.push(v.trim().to_owned());
                    }
                }
            }
        }
        BinaryCache::Store(url) => {
            let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
            for param in query.split('&') {
                if let Some((name, value)) = param.split_once('=') {
                    if name == "secret-key" {
                        out.push(value.to_owned());
                        if let Ok(text) = std::fs::read_to_string(value) {
                            let text = text.trim().to_owned();
                            if let Some((_, key)) = text.split_once(':') {
                                out.push(key.to_owned());
                            }
                            out.push(text);
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            BinaryCache::parse("cachix:ship-demo").unwrap(),
            BinaryCache::Cachix("ship-demo".into())
        );
        for url in [
            "file:///tmp/cache",
            "s3://bucket?region=x",
            "http://127.0.0.1:5000",
            "https://cache.example.org",
            "ssh://builder",
            "ssh-ng://builder",
        ] {
            assert_eq!(
                BinaryCache::parse(url).unwrap(),
                BinaryCache::Store(url.into()),
                "{url}"
            );
        }
        for (bad, why) in [
            ("cachix:Ship_Demo", "not a cachix cache name"),
            ("cachix:", "not a cachix cache name"),
            ("ftp://x", "unsupported scheme `ftp`"),
            ("/tmp/cache", "not a cachix name or store URL"),
            ("file://", "not a cachix name or store URL"),
        ] {
            let e = BinaryCache::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains(why) && e.contains("accepted: cachix:NAME"),
                "{bad}: {e}"
            );
        }
        let e = BinaryCache::parse("gopher://x?secret-key=/k")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("/k"), "{e}");
        assert!(matches!(
            BinaryCache::select(None, None),
            Err(CacheError::NoTarget)
        ));
        assert_eq!(
            BinaryCache::select(Some("file:///a"), Some("cachix:b")).unwrap(),
            BinaryCache::Store("file:///a".into())
        );
        assert_eq!(
            BinaryCache::select(None, Some("cachix:b"))
                .unwrap()
                .to_string(),
            "cachix:b"
        );
        assert_eq!(
            BinaryCache::parse("file:///c?secret-key=/run/k")
                .unwrap()
                .to_string(),
            "file:///c?secret-key=***"
        );
    }

    #[test]
    fn secrets_from_a_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.sec");
        std::fs::write(&key, "test-1:c2VjcmV0LWtleS1ieXRlcw==\n").unwrap();
        let t = BinaryCache::Store(format!(
            "file:///c?compression=zstd&secret-key={}",
            key.display()
        ));
        let s = secrets_for(&t);
        assert!(s.contains(&"c2VjcmV0LWtleS1ieXRlcw==".to_owned()), "{s:?}");
        assert!(s.contains(&"test-1:c2VjcmV0LWtleS1ieXRlcw==".to_owned()));
        assert!(s.contains(&key.display().to_string()));
    }
}
