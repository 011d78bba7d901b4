//! OCI data model shared by `archive` and `registry`: digests, descriptors, image manifests,
//! image indexes and the bits of an image config that name its platform. Pure: no I/O.
//!
//! Everything ship writes is serialized from these structs with `serde_json::to_vec`: fixed
//! field order, no whitespace, so the same inputs always give the same bytes and so the same
//! digest (the property re-runs rely on to "change nothing").

use std::fmt;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

pub const MEDIA_TYPE_IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_TYPE_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The OCI empty descriptor's media type: the config of an artifact that has none.
pub const MEDIA_TYPE_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The bytes of the OCI empty blob.
pub const EMPTY_JSON: &[u8] = b"{}";
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_TYPE_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_TYPE_DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";

/// Manifest media types a per-platform child of an index may have.
pub const IMAGE_MANIFEST_TYPES: &[&str] = &[MEDIA_TYPE_IMAGE_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST];

/// A content digest, always `sha256:` + 64 lowercase hex digits (the only algorithm the
/// registries ship targets require).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {value:?}: expected sha256: followed by 64 lowercase hex digits")]
pub struct DigestError {
    pub value: String,
}

impl Digest {
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let valid = s.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(DigestError {
                value: s.to_owned(),
            })
        }
    }
    /// The sha256 digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(bytes);
        hasher.finish()
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 64 hex digits without the algorithm.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
    /// `sha256:` + the first 12 hex digits, for progress lines.
    pub fn short(&self) -> &str {
        &self.0[..("sha256:".len() + 12)]
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;
    fn try_from(s: String) -> Result<Self, DigestError> {
        Self::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl std::str::FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, DigestError> {
        Self::parse(s)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Incremental sha256.
pub struct Sha256(ring::digest::Context);

impl Sha256 {
    pub fn new() -> Self {
        Self(ring::digest::Context::new(&ring::digest::SHA256))
    }
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    pub fn finish(self) -> Digest {
        let sum = self.0.finish();
        let mut hex = String::with_capacity(7 + 64);
        hex.push_str("sha256:");
        for b in sum.as_ref() {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        Digest(hex)
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A writer that hashes and counts what passes through it on the way to `inner`.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }
    /// The inner writer, the digest and the byte count of everything written.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, self.hasher.finish(), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What an index entry says about the platform of the manifest it points to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PlatformSpec {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A content descriptor: what a manifest or index says about a blob or manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformSpec>,
}

/// An OCI image manifest as ship writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    pub media_type: String,
    /// Set on artifacts (OCI 1.1), never on images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

impl ImageManifest {
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Self {
            schema_version: 2,
            media_type: MEDIA_TYPE_IMAGE_MANIFEST.to_owned(),
            artifact_type: None,
            config,
            layers,
            annotations: None,
        }
    }
    /// The canonical bytes ship pushes (and whose sha256 is the manifest digest).
    pub fn to_canonical_json(&self) -> Vec<u8> {
        canonical(self)
    }
}

/// An OCI image index as ship writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

impl ImageIndex {
    /// An index of `children`, sorted by platform so the order they were given in does not
    /// change the digest.
    pub fn new(mut children: Vec<Descriptor>) -> Self {
        children.sort_by(|a, b| a.platform.cmp(&b.platform).then(a.digest.cmp(&b.digest)));
        Self {
            schema_version: 2,
            media_type: MEDIA_TYPE_IMAGE_INDEX.to_owned(),
            manifests: children,
        }
    }
    pub fn to_canonical_json(&self) -> Vec<u8> {
        canonical(self)
    }
}

fn canonical<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs (strings, integers, vectors) cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// The part of a manifest fetched from a registry that push-index checks: its media type
/// (from the body, when the registry did not say) and its config descriptor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchedManifest {
    #[serde(default)]
    pub media_type: Option<String>,
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub manifests: Option<Vec<serde_json::Value>>,
}

/// The fields of an image config that name its platform.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConfigPlatform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl ConfigPlatform {
    pub fn spec(&self) -> PlatformSpec {
        PlatformSpec {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone().filter(|v| !v.is_empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_of_known_inputs() {
        assert_eq!(Digest::of(b"").as_str(), EMPTY);
        assert_eq!(
            Digest::of(b"abc").as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"ab").unwrap();
        w.write_all(b"c").unwrap();
        let (inner, digest, len) = w.finish();
        assert_eq!((inner.as_slice(), len), (&b"abc"[..], 3));
        assert_eq!(digest, Digest::of(b"abc"));
    }

    #[test]
    fn digest_parsing() {
        assert!(Digest::parse(EMPTY).is_ok());
        for bad in [
            "",
            "sha256:",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            let err = Digest::parse(bad).unwrap_err();
            assert!(err.to_string().contains("64 lowercase hex"), "{err}");
        }
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.hex().len(), 64);
        assert_eq!(d.short(), "sha256:e3b0c44298fc");
    }

    fn desc(digest: &str, arch: &str) -> Descriptor {
        Descriptor {
            media_type: MEDIA_TYPE_IMAGE_MANIFEST.into(),
            digest: Digest::of(digest.as_bytes()),
            size: 10,
            platform: Some(PlatformSpec {
                architecture: arch.into(),
                os: "linux".into(),
                variant: None,
            }),
        }
    }

    #[test]
    fn manifest_json_is_canonical() {
        let config = Descriptor {
            media_type: MEDIA_TYPE_IMAGE_CONFIG.into(),
            digest: Digest::of(b"c"),
            size: 1,
            platform: None,
        };
        let m = ImageManifest::new(config, vec![]);
        let json = String::from_utf8(m.to_canonical_json()).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_IMAGE_MANIFEST}","config":{{"mediaType":"{MEDIA_TYPE_IMAGE_CONFIG}","digest":"{}","size":1}},"layers":[]}}"#,
                Digest::of(b"c")
            )
        );
    }

    #[test]
    fn index_order_does_not_change_digest() {
        let a = ImageIndex::new(vec![desc("x", "arm64"), desc("y", "amd64")]);
        let b = ImageIndex::new(vec![desc("y", "amd64"), desc("x", "arm64")]);
        assert_eq!(a.to_canonical_json(), b.to_canonical_json());
        assert_eq!(
            a.manifests[0].platform.as_ref().unwrap().architecture,
            "amd64"
        );
        let json: serde_json::Value = serde_json::from_slice(&a.to_canonical_json()).unwrap();
        assert_eq!(json["mediaType"], MEDIA_TYPE_IMAGE_INDEX);
        assert_eq!(json["manifests"][1]["platform"]["architecture"], "arm64");
        assert!(json["manifests"][1]["platform"].get("variant").is_none());
    }

    #[test]
    fn platform_spec_display() {
        let mut p = desc("x", "arm64").platform.unwrap();
        assert_eq!(p.to_string(), "linux/arm64");
        p.variant = Some("v8".into());
        assert_eq!(p.to_string(), "linux/arm64/v8");
    }
}
