//! The image config and `manifest.json` of a docker-archive: read them, check them against
//! the layers, and write the OCI image config (OCI keys only, keys sorted, `rootfs` from the
//! layers read).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::oci::{ConfigPlatform, Digest, PlatformSpec};
use crate::platform::{Platform, PLATFORMS};

/// Top-level keys of an image config that the OCI image spec defines; Docker-only keys
/// (`container`, `container_config`, `docker_version`, ...) are dropped.
const OCI_CONFIG_KEYS: &[&str] = &[
    "created",
    "author",
    "architecture",
    "os",
    "os.version",
    "os.features",
    "variant",
    "config",
    "rootfs",
    "history",
];

/// The parts of a docker-archive `manifest.json` ship uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DockerManifest {
    pub config: String,
    pub layers: Vec<String>,
}

pub(super) fn parse_docker_manifest(bytes: &[u8]) -> Result<DockerManifest, String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "Config")]
        config: String,
        #[serde(rename = "Layers")]
        layers: Vec<String>,
    }
    let entries: Vec<Entry> =
        serde_json::from_slice(bytes).map_err(|e| format!("not a docker-archive manifest: {e}"))?;
    match entries.len() {
        1 => {
            let mut entries = entries;
            let e = entries.remove(0);
            Ok(DockerManifest {
                config: e.config,
                layers: e.layers,
            })
        }
        n => Err(format!(
            "holds {n} images; ship pushes exactly one image per archive"
        )),
    }
}

/// An image config as read, with what ship checks and keeps from it.
#[derive(Debug)]
pub(super) struct ImageConfig {
    pub raw: serde_json::Value,
    pub platform: Platform,
    pub platform_spec: PlatformSpec,
    /// `rootfs.diff_ids`, when the config has them.
    pub diff_ids: Option<Vec<Digest>>,
}

impl ImageConfig {
    /// The config named by `manifest`, which must describe a platform ship builds and, when it
    /// lists diff_ids, as many as the manifest has layers.
    pub fn parse(bytes: &[u8], manifest: &DockerManifest) -> Result<Self, String> {
        let name = &manifest.config;
        let raw: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("image config {name}: not JSON: {e}"))?;
        let fields: ConfigPlatform =
            serde_json::from_value(raw.clone()).map_err(|e| format!("image config {name}: {e}"))?;
        let platform =
            Platform::from_os_arch(&fields.os, &fields.architecture).ok_or_else(|| {
                format!(
                    "image config says os {:?}, architecture {:?}; ship pushes {}",
                    fields.os,
                    fields.architecture,
                    PLATFORMS.join(", ")
                )
            })?;
        let diff_ids = config_diff_ids(&raw).map_err(|m| format!("image config: {m}"))?;
        if let Some(ids) = &diff_ids {
            if ids.len() != manifest.layers.len() {
                return Err(format!(
                    "manifest.json lists {} layers but the image config has {} diff_ids: the archive is corrupt",
                    manifest.layers.len(),
                    ids.len()
                ));
            }
        }
        Ok(Self {
            raw,
            platform,
            platform_spec: fields.spec(),
            diff_ids,
        })
    }
}

/// `rootfs.diff_ids` of a config, if it has them.
fn config_diff_ids(config: &serde_json::Value) -> Result<Option<Vec<Digest>>, String> {
    let Some(rootfs) = config.get("rootfs") else {
        return Ok(None);
    };
    let Some(ids) = rootfs.get("diff_ids") else {
        return Ok(None);
    };
    let ids = ids
        .as_array()
        .ok_or("rootfs.diff_ids is not a list")?
        .iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| "rootfs.diff_ids has a non-string entry".to_owned())
                .and_then(|s| Digest::parse(s).map_err(|e| format!("rootfs.diff_ids: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(ids))
}

/// The OCI image config: the OCI keys of `raw`, `rootfs` set from the layers ship read, with
/// object keys sorted so the bytes (and the digest) depend only on the content.
pub fn oci_config(raw: &serde_json::Value, diff_ids: &[Digest]) -> Vec<u8> {
    let mut out = BTreeMap::new();
    if let Some(obj) = raw.as_object() {
        for (k, v) in obj {
            if OCI_CONFIG_KEYS.contains(&k.as_str()) && k != "rootfs" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out.insert(
        "rootfs".to_owned(),
        serde_json::json!({
            "type": "layers",
            "diff_ids": diff_ids.iter().map(Digest::as_str).collect::<Vec<_>>(),
        }),
    );
    let value = serde_json::Value::Object(out.into_iter().collect());
    serde_json::to_vec(&Sorted(&value)).unwrap_or_default()
}

/// Serializes a JSON value with every object's keys in sorted order, whatever map type
/// serde_json was built with.
struct Sorted<'a>(&'a serde_json::Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut m = s.serialize_map(Some(keys.len()))?;
                for k in keys {
                    m.serialize_entry(k, &Sorted(&map[k]))?;
                }
                m.end()
            }
            serde_json::Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Sorted(item))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_manifest_needs_exactly_one_image() {
        let one =
            br#"[{"Config":"abc.json","RepoTags":["x:y"],"Layers":["a/layer.tar","b/layer.tar"]}]"#;
        assert_eq!(
            parse_docker_manifest(one).unwrap(),
            DockerManifest {
                config: "abc.json".into(),
                layers: vec!["a/layer.tar".into(), "b/layer.tar".into()]
            }
        );
        let two = br#"[{"Config":"a","Layers":[]},{"Config":"b","Layers":[]}]"#;
        assert!(parse_docker_manifest(two)
            .unwrap_err()
            .contains("holds 2 images"));
        assert!(parse_docker_manifest(b"{}")
            .unwrap_err()
            .contains("not a docker-archive manifest"));
    }

    #[test]
    fn oci_config_keeps_oci_keys_sorted_and_sets_rootfs() {
        let raw = serde_json::json!({
            "os": "linux",
            "architecture": "arm64",
            "docker_version": "24",
            "container_config": {"Cmd": ["x"]},
            "config": {"Env": ["B=2", "A=1"], "Entrypoint": ["/bin/app"]},
            "created": "1970-01-01T00:00:01+00:00",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:00"]},
        });
        let ids = [Digest::of(b"layer")];
        let bytes = oci_config(&raw, &ids);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"architecture":"arm64","config":{{"Entrypoint":["/bin/app"],"Env":["B=2","A=1"]}},"created":"1970-01-01T00:00:01+00:00","os":"linux","rootfs":{{"diff_ids":["{}"],"type":"layers"}}}}"#,
                ids[0]
            )
        );
        // Key order in the input does not matter.
        let reordered: serde_json::Value = serde_json::from_str(
            r#"{"rootfs":{},"created":"1970-01-01T00:00:01+00:00","config":{"Entrypoint":["/bin/app"],"Env":["B=2","A=1"]},"architecture":"arm64","os":"linux"}"#,
        )
        .unwrap();
        assert_eq!(oci_config(&reordered, &ids), bytes);
    }

    #[test]
    fn diff_ids_are_validated() {
        let ok = serde_json::json!({"rootfs": {"diff_ids": [Digest::of(b"a").as_str()]}});
        assert_eq!(config_diff_ids(&ok).unwrap(), Some(vec![Digest::of(b"a")]));
        assert_eq!(config_diff_ids(&serde_json::json!({})).unwrap(), None);
        let bad = serde_json::json!({"rootfs": {"diff_ids": ["md5:x"]}});
        assert!(config_diff_ids(&bad)
            .unwrap_err()
            .contains("rootfs.diff_ids"));
    }
}
