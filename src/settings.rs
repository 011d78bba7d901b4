//! What the service reads at start-up, the way services configured like a cargo-chef image are:
//! `service.json` from a configuration directory (`configuration/` under the working directory,
//! which the image sets to /app), the environment it runs in (`APP_ENVIRONMENT`), and the CA
//! bundle outbound TLS would use (`SSL_CERT_FILE`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `service.json`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    pub greeting: String,
}

/// What `/settings` reports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Settings {
    pub environment: String,
    pub greeting: String,
    /// The CA bundle named by SSL_CERT_FILE, when that file exists.
    pub ca_bundle: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read {path}: {source} (set --config-dir or APP_CONFIG_DIR)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

impl Settings {
    /// Reads `dir/service.json`; `environment` and `ca_bundle` come from the caller (the
    /// process environment at the edge).
    pub fn load(
        dir: &Path,
        environment: String,
        ca_bundle: Option<PathBuf>,
    ) -> Result<Self, SettingsError> {
        let path = dir.join("service.json");
        let text = std::fs::read_to_string(&path).map_err(|source| SettingsError::Read {
            path: path.clone(),
            source,
        })?;
        let file: ServiceFile =
            serde_json::from_str(&text).map_err(|source| SettingsError::Parse { path, source })?;
        Ok(Self {
            environment,
            greeting: file.greeting,
            ca_bundle: ca_bundle.filter(|p| p.is_file()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "demo-settings-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("service.json"), text).unwrap();
        dir
    }

    #[test]
    fn reads_the_service_file_and_keeps_an_existing_ca_bundle_only() {
        let dir = dir_with(r#"{"greeting": "hi"}"#);
        let s = Settings::load(&dir, "test".into(), Some(dir.join("service.json"))).unwrap();
        assert_eq!(s.greeting, "hi");
        assert_eq!(s.environment, "test");
        assert_eq!(s.ca_bundle, Some(dir.join("service.json")));
        let s = Settings::load(&dir, "test".into(), Some(dir.join("nope.crt"))).unwrap();
        assert_eq!(s.ca_bundle, None);
    }

    #[test]
    fn a_missing_or_bad_file_names_the_path() {
        let missing = Settings::load(Path::new("/no/such/dir"), "x".into(), None).unwrap_err();
        assert!(
            missing.to_string().contains("/no/such/dir/service.json"),
            "{missing}"
        );
        let dir = dir_with(r#"{"greting": "typo in the key"}"#);
        let bad = Settings::load(&dir, "x".into(), None).unwrap_err();
        assert!(bad.to_string().contains("service.json"), "{bad}");
        assert!(bad.to_string().contains("greting"), "{bad}");
    }
}
