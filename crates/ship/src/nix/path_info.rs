//! Reading `nix path-info --json` in every shape Nix has printed it (the 2.8 array, the 2.19
//! object, the versioned `--json-format` documents of 2.33+): validity, sizes, signatures,
//! references.

use serde::Serialize;
use serde_json::Value;

use super::{StorePath, DEFAULT_STORE_DIR};

/// One store object as `nix path-info --json` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathInfo {
    pub path: StorePath,
    /// False when the store does not have the path (Nix 2.8: `"valid": false`; 2.19+: `null`).
    pub valid: bool,
    pub nar_size: u64,
    /// Only with `-S`.
    pub closure_size: Option<u64>,
    /// `key-name:base64`, whatever shape Nix printed them in.
    pub signatures: Vec<String>,
    pub deriver: Option<StorePath>,
    pub references: Vec<StorePath>,
}

impl PathInfo {
    fn invalid(path: StorePath) -> Self {
        Self {
            path,
            valid: false,
            nar_size: 0,
            closure_size: None,
            signatures: Vec::new(),
            deriver: None,
            references: Vec::new(),
        }
    }

    /// True when one of the signatures was made by the key named `key` (e.g.
    /// `cache.nixos.org-1`). The signature itself is not checked: the local store only keeps
    /// signatures it already trusted, and a binary cache's are checked by whoever fetches.
    pub fn signed_by(&self, key: &str) -> bool {
        self.signatures
            .iter()
            .any(|s| s.split_once(':').is_some_and(|(name, _)| name == key))
    }

    /// The name part of the path (`hello-2.12` of `/nix/store/<hash>-hello-2.12`).
    pub fn name(&self) -> &str {
        store_path_name(&self.path)
    }
}

/// The name part of a store path: everything after `<hash>-` of its last component.
pub fn store_path_name(path: &str) -> &str {
    let base = path.rsplit('/').next().unwrap_or(path);
    match base.split_once('-') {
        Some((hash, name)) if hash.len() == 32 => name,
        _ => base,
    }
}

/// Parses `nix path-info --json` in every shape Nix has printed:
/// - Nix 2.8 to 2.18: an ARRAY of objects with `path` (`{"path":..,"valid":false}` for a
///   missing one);
/// - Nix 2.19 to 2.32 (and `--json-format 1` from 2.33): an OBJECT keyed by full store path,
///   `null` for a missing one (2.33+ adds `version` and `storeDir` to each entry);
/// - Nix 2.33+ `--json-format 2` / 2.35+ `--json-format 3`:
///   `{"version":N,"storeDir":"/nix/store","info":{"<hash>-<name>": {..} | null}}` with store
///   path base names in keys, `references` and `deriver`, structured `narHash`/`ca`, and in
///   version 3 signatures as `{"keyName":..,"sig":..}` objects.
pub fn parse_path_info(json: &str) -> Result<Vec<PathInfo>, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    match &value {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let path = item
                    .get("path")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("an entry without `path`: {item}"))?;
                if item.get("valid").and_then(Value::as_bool) == Some(false) {
                    return Ok(PathInfo::invalid(path.to_owned()));
                }
                path_info_entry(path.to_owned(), item, DEFAULT_STORE_DIR)
            })
            .collect(),
        Value::Object(map) => {
            let versioned = map.get("version").is_some_and(Value::is_u64)
                && map.get("info").is_some_and(Value::is_object);
            let (entries, store_dir) = if versioned {
                let dir = map
                    .get("storeDir")
                    .and_then(Value::as_str)
                    .unwrap_or(DEFAULT_STORE_DIR);
                (map.get("info").and_then(Value::as_object), dir)
            } else {
                (Some(map), DEFAULT_STORE_DIR)
            };
            let Some(entries) = entries else {
                return Ok(Vec::new());
            };
            entries
                .iter()
                .map(|(key, entry)| {
                    let path = full_path(key, store_dir);
                    if entry.is_null() {
                        Ok(PathInfo::invalid(path))
                    } else {
                        let dir = entry
                            .get("storeDir")
                            .and_then(Value::as_str)
                            .unwrap_or(store_dir);
                        path_info_entry(full_path(key, dir), entry, dir)
                    }
                })
                .collect()
        }
        other => Err(format!("expected a JSON array or object, got {other}")),
    }
}

fn full_path(name: &str, store_dir: &str) -> StorePath {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("{}/{name}", store_dir.trim_end_matches('/'))
    }
}

fn path_info_entry(path: StorePath, entry: &Value, store_dir: &str) -> Result<PathInfo, String> {
    let nar_size = entry
        .get("narSize")
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("{path}: no `narSize`"))?;
    let references = entry
        .get("references")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(Value::as_str)
                .map(|r| full_path(r, store_dir))
                .collect()
        })
        .unwrap_or_default();
    let signatures = entry
        .get("signatures")
        .and_then(Value::as_array)
        .map(|sigs| {
            sigs.iter()
                .filter_map(|s| match s {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => Some(format!(
                        "{}:{}",
                        o.get("keyName")?.as_str()?,
                        o.get("sig")?.as_str()?
                    )),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(PathInfo {
        nar_size,
        closure_size: entry.get("closureSize").and_then(Value::as_u64),
        signatures,
        deriver: entry
            .get("deriver")
            .and_then(Value::as_str)
            .map(|d| full_path(d, store_dir)),
        references,
        valid: true,
        path,
    })
}

/// How to query path info.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathInfoQuery<'a> {
    /// `-r`: the closures of the paths.
    pub recursive: bool,
    /// `-S`: closure sizes.
    pub closure_size: bool,
    /// `--store URL`: ask another store (a binary cache) instead of the local one.
    pub store: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nix::test_paths::*;

    fn sig(key: &str) -> String {
        format!("{key}:c2lnbmF0dXJl")
    }

    #[test]
    fn path_info_nix_2_8_array() {
        let json = format!(
            r#"[{{"path":"{}","valid":false}},
                {{"path":"{}","narHash":"sha256-x","narSize":764568,"references":["{}"],
                  "closureSize":800000,"deriver":"{}","signatures":["{}"],"ultimate":true}}]"#,
            p(H1, "gone"),
            p(H2, "app"),
            p(H3, "glibc"),
            p(H2, "app.drv"),
            sig("test-1"),
        );
        let infos = parse_path_info(&json).unwrap();
        assert_eq!(infos[0], PathInfo::invalid(p(H1, "gone")));
        let app = &infos[1];
        assert!(app.valid);
        assert_eq!(app.nar_size, 764568);
        assert_eq!(app.closure_size, Some(800000));
        assert_eq!(app.references, vec![p(H3, "glibc")]);
        assert_eq!(app.deriver.as_deref(), Some(p(H2, "app.drv").as_str()));
        assert!(app.signed_by("test-1"));
        assert!(!app.signed_by("cache.nixos.org-1"));
        assert_eq!(app.name(), "app");
    }

    #[test]
    fn path_info_nix_2_19_object() {
        let json = format!(
            r#"{{"{}":null,"{}":{{"narHash":"sha256-x","narSize":10,"references":[],
                "deriver":null,"signatures":["{}"],"ca":null,"registrationTime":1}}}}"#,
            p(H1, "gone"),
            p(H2, "glibc"),
            sig("cache.nixos.org-1"),
        );
        let infos = parse_path_info(&json).unwrap();
        assert_eq!(infos.len(), 2);
        let gone = infos.iter().find(|i| i.path == p(H1, "gone")).unwrap();
        assert!(!gone.valid);
        let glibc = infos.iter().find(|i| i.path == p(H2, "glibc")).unwrap();
        assert!(glibc.signed_by("cache.nixos.org-1"));
        assert_eq!(glibc.deriver, None);
    }

    #[test]
    fn path_info_nix_2_33_format_1_object() {
        // --json-format 1 from 2.33: the 2.19 object, each entry with version and storeDir.
        let json = format!(
            r#"{{"{}":{{"version":1,"storeDir":"/nix/store","narHash":"sha256-x","narSize":5,
                "references":["{}"],"ca":null,"deriver":"{}","registrationTime":null,
                "ultimate":false,"signatures":[]}}}}"#,
            p(H1, "a"),
            p(H2, "b"),
            p(H1, "a.drv")
        );
        let infos = parse_path_info(&json).unwrap();
        assert_eq!(infos[0].references, vec![p(H2, "b")]);
        assert_eq!(infos[0].nar_size, 5);
    }

    #[test]
    fn path_info_versioned_2_and_3() {
        // --json-format 2 (2.33+): base names, structured narHash/ca, string signatures.
        let v2 = format!(
            r#"{{"version":2,"storeDir":"/nix/store","info":{{
                "{H1}-gone":null,
                "{H2}-app":{{"version":2,"storeDir":"/nix/store",
                  "narHash":{{"algorithm":"sha256","format":"base16","hash":"15e3"}},
                  "narSize":42,"references":["{H3}-glibc","{H2}-app"],"ca":null,
                  "deriver":"{H2}-app.drv","registrationTime":1,"ultimate":true,
                  "signatures":["{}"],"closureSize":99}}}}}}"#,
            sig("test-1")
        );
        let infos = parse_path_info(&v2).unwrap();
        let app = infos.iter().find(|i| i.valid).unwrap();
        assert_eq!(app.path, p(H2, "app"));
        assert_eq!(app.references, vec![p(H3, "glibc"), p(H2, "app")]);
        assert_eq!(app.deriver.as_deref(), Some(p(H2, "app.drv").as_str()));
        assert_eq!(app.closure_size, Some(99));
        assert!(app.signed_by("test-1"));
        assert!(infos.iter().any(|i| !i.valid && i.path == p(H1, "gone")));

        // --json-format 3 (2.35+): signatures as {keyName, sig}; another store dir.
        let v3 = format!(
            r#"{{"version":3,"storeDir":"/opt/store","info":{{"{H1}-glibc":{{"version":3,
                "storeDir":"/opt/store","narHash":{{"algorithm":"sha256","format":"base16","hash":"00"}},
                "narSize":7,"references":[],"ca":null,"deriver":null,"registrationTime":null,
                "ultimate":false,"signatures":[{{"keyName":"cache.nixos.org-1","sig":"AAAA"}}]}}}}}}"#
        );
        let infos = parse_path_info(&v3).unwrap();
        assert_eq!(infos[0].path, format!("/opt/store/{H1}-glibc"));
        assert_eq!(
            infos[0].signatures,
            vec!["cache.nixos.org-1:AAAA".to_owned()]
        );
        assert!(infos[0].signed_by("cache.nixos.org-1"));
    }

    #[test]
    fn path_info_rejects_garbage() {
        assert!(parse_path_info("42").is_err());
        assert!(parse_path_info("[{\"narSize\":1}]").is_err());
        assert!(parse_path_info(&format!("[{{\"path\":\"{}\"}}]", p(H1, "a"))).is_err());
    }

    #[test]
    fn store_path_names() {
        assert_eq!(
            store_path_name(&p(H1, "docker-image-x.tar")),
            "docker-image-x.tar"
        );
        assert_eq!(store_path_name("/nix/store/short-name"), "short-name");
    }
}
