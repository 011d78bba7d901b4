//! The OCI Distribution API calls ship makes (blob HEAD/GET/upload, manifest GET/HEAD/PUT),
//! each one [`Call`] run under the retry policy, its status judged per the spec.

use crate::oci::Digest;

use super::http::{AttemptError, Call, Payload};
use super::Client;
use crate::registry::reference::Repository;
use crate::registry::RegistryError;

/// A manifest as fetched: its bytes and the Content-Type the registry gave.
#[derive(Debug, Clone)]
pub struct FetchedBytes {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

impl Client {
    /// Whether the blob is in the repository (HEAD).
    pub fn blob_exists(
        &self,
        repo: &Repository,
        digest: &Digest,
        step: &str,
    ) -> Result<bool, RegistryError> {
        Ok(self.blob_head(repo, digest, step)?.is_some())
    }

    /// HEAD of a blob: `None` if the repository lacks it, else the size it says (`None`
    /// when it gives no Content-Length).
    pub fn blob_head(
        &self,
        repo: &Repository,
        digest: &Digest,
        step: &str,
    ) -> Result<Option<Option<u64>>, RegistryError> {
        let call = Call::new("HEAD", format!("/v2/{}/blobs/{digest}", repo.path()));
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            match answer.status {
                200 => Ok(Some(
                    answer
                        .header("content-length")
                        .and_then(|n| n.trim().parse().ok()),
                )),
                404 => Ok(None),
                _ => Err(AttemptError::Fatal(answer.describe())),
            }
        })
    }

    /// Fetch a manifest by digest or tag: its bytes and media type, or `None` if absent.
    pub fn get_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        accept: &str,
        step: &str,
    ) -> Result<Option<FetchedBytes>, RegistryError> {
        let mut call = Call::new("GET", format!("/v2/{}/manifests/{reference}", repo.path()));
        call.accept = Some(accept);
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            match answer.status {
                200 => Ok(Some(FetchedBytes {
                    bytes: answer.body.clone(),
                    content_type: answer.header("content-type").map(str::to_owned),
                })),
                404 => Ok(None),
                _ => Err(AttemptError::Fatal(answer.describe())),
            }
        })
    }

    /// The digest a tag (or digest) resolves to, from HEAD's Docker-Content-Digest.
    pub fn manifest_digest(
        &self,
        repo: &Repository,
        reference: &str,
        accept: &str,
        step: &str,
    ) -> Result<Option<Digest>, RegistryError> {
        let mut call = Call::new("HEAD", format!("/v2/{}/manifests/{reference}", repo.path()));
        call.accept = Some(accept);
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            match answer.status {
                200 => Ok(answer
                    .header("docker-content-digest")
                    .and_then(|d| Digest::parse(d).ok())),
                404 => Ok(None),
                _ => Err(AttemptError::Fatal(answer.describe())),
            }
        })
    }

    /// PUT a manifest (or index) under `reference` (its digest, or a tag). Checks the digest
    /// the registry computed, when it says one, against the bytes sent.
    pub fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        step: &str,
    ) -> Result<(), RegistryError> {
        let mut call = Call::new("PUT", format!("/v2/{}/manifests/{reference}", repo.path()));
        call.content_type = Some(media_type);
        call.payload = Payload::Bytes(bytes);
        let expected = Digest::of(bytes);
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            if answer.status != 201 {
                return Err(AttemptError::Fatal(answer.describe()));
            }
            match answer.header("docker-content-digest").map(Digest::parse) {
                Some(Ok(d)) if d != expected => Err(AttemptError::Fatal(format!(
                    "the registry stored it as {d}, not {expected}"
                ))),
                _ => Ok(()),
            }
        })
    }

    /// Fetch a (small) blob, e.g. an image config; `None` if absent.
    pub fn get_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        step: &str,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let call = Call::new("GET", format!("/v2/{}/blobs/{digest}", repo.path()));
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            match answer.status {
                200 => Ok(Some(answer.body.clone())),
                404 => Ok(None),
                _ => Err(AttemptError::Fatal(answer.describe())),
            }
        })
    }
}
