//! Layer records: the registry's own memory of which compressed blob holds an uncompressed
//! layer, so that a client with no local state can push a layer the registry already has
//! without compressing it to learn its digest.
//!
//! A record is a tag in the image's own repository, `sha256-<diff_id hex>.ship-layer`,
//! pointing at a small OCI artifact manifest: the empty config, one layer (the compressed
//! blob) and the diff_id as an annotation. Because the manifest references the blob, registry
//! garbage collection keeps the blob for as long as the record exists; because the tag is
//! named by content, images that share a layer share its record, and concurrent pushes of
//! one layer write the same bytes. A record is a hint: [`read`] only says what it names, and
//! the caller checks that the repository has that blob before using it.

use std::collections::BTreeMap;

use crate::oci::{
    Descriptor, Digest, ImageManifest, EMPTY_JSON, MEDIA_TYPE_EMPTY, MEDIA_TYPE_IMAGE_MANIFEST,
    MEDIA_TYPE_LAYER_GZIP,
};

use super::client::{Call, Client, Payload};
use super::push::{push_blob, BlobKind};
use super::reference::Repository;
use super::RegistryError;

/// The `artifactType` of a record manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.ship.layer-record.v1";
/// The annotation naming the uncompressed layer (its diff_id) a record is about.
pub const DIFF_ID_ANNOTATION: &str = "ship.layer.diff_id";

/// The tag the record of `diff_id` is kept under (at most 128 characters, as tags must be).
pub fn tag(diff_id: &Digest) -> String {
    format!("sha256-{}.ship-layer", diff_id.hex())
}

/// The record manifest saying that `blob` holds the layer whose diff_id is `diff_id`.
pub fn manifest(diff_id: &Digest, blob: &Descriptor) -> ImageManifest {
    let mut m = ImageManifest::new(empty_descriptor(), vec![blob.clone()]);
    m.artifact_type = Some(ARTIFACT_TYPE.to_owned());
    m.annotations = Some(BTreeMap::from([(
        DIFF_ID_ANNOTATION.to_owned(),
        diff_id.to_string(),
    )]));
    m
}

/// The blob a fetched record names, if it is a record of `diff_id` that ship can use: one
/// gzip layer (what ship makes of a plain tar layer), the right annotation.
pub fn parse(bytes: &[u8], diff_id: &Digest) -> Result<Descriptor, String> {
    let m: ImageManifest =
        serde_json::from_slice(bytes).map_err(|e| format!("not an OCI manifest: {e}"))?;
    if m.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
        return Err(format!(
            "artifactType is {:?}, not {ARTIFACT_TYPE}",
            m.artifact_type
        ));
    }
    let says = m
        .annotations
        .as_ref()
        .and_then(|a| a.get(DIFF_ID_ANNOTATION));
    if says.map(String::as_str) != Some(diff_id.as_str()) {
        return Err(format!(
            "annotation {DIFF_ID_ANNOTATION} is {says:?}, not {diff_id}"
        ));
    }
    match m.layers.as_slice() {
        [blob] if blob.media_type == MEDIA_TYPE_LAYER_GZIP => Ok(Descriptor {
            platform: None,
            ..blob.clone()
        }),
        [blob] => Err(format!(
            "its layer is a {}, not a {MEDIA_TYPE_LAYER_GZIP}",
            blob.media_type
        )),
        layers => Err(format!("it has {} layers, not 1", layers.len())),
    }
}

fn empty_descriptor() -> Descriptor {
    Descriptor {
        media_type: MEDIA_TYPE_EMPTY.to_owned(),
        digest: Digest::of(EMPTY_JSON),
        size: EMPTY_JSON.len() as u64,
        platform: None,
    }
}

/// What reading a record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A record naming this blob (not yet checked to be in the repository).
    Blob(Descriptor),
    /// No record, or one ship cannot use (it will be overwritten).
    Nothing,
    /// The registry would not answer (refused or failed); the reason.
    Unreadable(String),
}

/// Read the record of `diff_id` in `repo`. A registry that answers with a refusal (any
/// status but 200 and 404) is pushed to as if it had no records; one that cannot be reached
/// fails the read, as it would fail the push.
pub fn read(client: &Client, repo: &Repository, diff_id: &Digest) -> Result<Found, RegistryError> {
    let tag = tag(diff_id);
    let mut call = Call::new("GET", format!("/v2/{}/manifests/{tag}", repo.path()));
    call.accept = Some(MEDIA_TYPE_IMAGE_MANIFEST);
    client.retrying(repo, &format!("reading layer record {tag}"), || {
        let answer = client.attempt(repo, &call)?;
        Ok(match answer.status {
            200 => parse(&answer.body, diff_id).map_or(Found::Nothing, Found::Blob),
            404 => Found::Nothing,
            _ => Found::Unreadable(answer.describe()),
        })
    })
}

/// Put the empty blob a record's config names into `repo`, unless it is there: mounted from
/// a mount source if one has it, else uploaded.
pub fn ensure_empty_config(client: &Client, repo: &Repository) -> Result<(), RegistryError> {
    let empty = empty_descriptor();
    push_blob(
        client,
        repo,
        BlobKind::Config,
        &empty,
        Payload::Bytes(EMPTY_JSON),
    )
    .map(|_| ())
}

/// Write (or overwrite) the record of `diff_id` in `repo`: `blob` must be in `repo`, and
/// [`ensure_empty_config`] must have run.
pub fn write(
    client: &Client,
    repo: &Repository,
    diff_id: &Digest,
    blob: &Descriptor,
) -> Result<(), RegistryError> {
    let tag = tag(diff_id);
    let bytes = manifest(diff_id, blob).to_canonical_json();
    client.put_manifest(
        repo,
        &tag,
        MEDIA_TYPE_IMAGE_MANIFEST,
        &bytes,
        &format!("writing layer record {tag}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> Descriptor {
        Descriptor {
            media_type: MEDIA_TYPE_LAYER_GZIP.to_owned(),
            digest: Digest::of(b"gz"),
            size: 2,
            platform: None,
        }
    }

    #[test]
    fn tag_is_named_by_the_diff_id_and_fits_the_tag_grammar() {
        let id = Digest::of(b"layer");
        let t = tag(&id);
        assert_eq!(t, format!("sha256-{}.ship-layer", id.hex()));
        assert!(t.len() <= 128);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
    }

    #[test]
    fn a_written_record_reads_back_and_its_bytes_depend_only_on_its_content() {
        let id = Digest::of(b"layer");
        let bytes = manifest(&id, &blob()).to_canonical_json();
        assert_eq!(parse(&bytes, &id), Ok(blob()));
        assert_eq!(bytes, manifest(&id, &blob()).to_canonical_json());
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["artifactType"], ARTIFACT_TYPE);
        assert_eq!(json["config"]["mediaType"], MEDIA_TYPE_EMPTY);
        assert_eq!(json["config"]["size"], 2);
        assert_eq!(
            json["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn records_of_another_layer_or_shape_are_not_used() {
        let id = Digest::of(b"layer");
        let other = Digest::of(b"other");
        let bytes = manifest(&id, &blob()).to_canonical_json();
        assert!(parse(&bytes, &other).unwrap_err().contains("annotation"));

        let mut zstd = blob();
        zstd.media_type = crate::oci::MEDIA_TYPE_LAYER_ZSTD.to_owned();
        let bytes = manifest(&id, &zstd).to_canonical_json();
        assert!(parse(&bytes, &id).unwrap_err().contains("not a"));

        let mut two = manifest(&id, &blob());
        two.layers.push(blob());
        assert!(parse(&two.to_canonical_json(), &id)
            .unwrap_err()
            .contains("2 layers"));

        let mut image = manifest(&id, &blob());
        image.artifact_type = None;
        assert!(parse(&image.to_canonical_json(), &id)
            .unwrap_err()
            .contains("artifactType"));
        assert!(parse(b"{}", &id).is_err());
    }
}
