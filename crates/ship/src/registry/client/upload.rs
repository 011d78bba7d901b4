//! Blob uploads: monolithic (POST, then one PUT with the bytes), chunked (POST, a PATCH per
//! chunk with Content-Range, then PUT with the digest), and cross-repository mounts.
//!
//! Chunked is used when configured, and from the first 413 on (a proxy in front of the
//! registry refusing large bodies) for the rest of the push. What registries do that the
//! spec does not say (from other clients' trackers): ghcr.io refuses PATCH bodies over 4 MiB
//! (416 "exceeds the maximum permissible limit of 4.00MiB"), so the default chunk is 4 MiB;
//! ECR answers 201 instead of 202 to a PATCH; the Range a registry reports says where the
//! next chunk starts; Locations may be absolute, relative, or on another host.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::Ordering;

use super::http::{url_encode, AttemptError, Call, Payload};
use super::Client;
use crate::oci::Digest;
use crate::registry::reference::Repository;
use crate::registry::RegistryError;

/// The chunk size that suits every registry ship knows: ghcr.io's limit.
pub const DEFAULT_CHUNK_SIZE: u64 = 4 << 20;

/// How blobs are uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadOptions {
    /// Always upload in chunks (else only after a registry refused a body with 413).
    pub chunked: bool,
    /// Bytes per PATCH.
    pub chunk_size: u64,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            chunked: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

const OCTET_STREAM: &str = "application/octet-stream";

impl Client {
    /// Upload a blob of `size` bytes. A transient failure restarts the whole upload.
    pub(crate) fn upload_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        payload: Payload<'_>,
        size: u64,
        step: &str,
    ) -> Result<(), RegistryError> {
        self.retrying(repo, step, || {
            let location = self.open_upload(repo)?;
            if self.uploads.chunked || self.chunked_after_413.load(Ordering::Relaxed) {
                return self.upload_chunks(repo, digest, payload, size, location);
            }
            let mut put = Call::new("PUT", with_digest(&location, digest));
            put.content_type = Some(OCTET_STREAM);
            put.payload = payload;
            let done = self.attempt(repo, &put)?;
            match done.status {
                201 => Ok(()),
                413 => {
                    // Too large for the registry (or a proxy before it) in one body: this
                    // blob and every later one go in chunks.
                    self.chunked_after_413.store(true, Ordering::Relaxed);
                    let location = self.open_upload(repo)?;
                    self.upload_chunks(repo, digest, payload, size, location)
                }
                _ => Err(AttemptError::Fatal(done.describe())),
            }
        })
    }

    /// Mount `digest` from `from` (same registry) into `repo`: true if the registry did
    /// (201); false if it cannot (202: it opened an upload instead, which is left unused).
    pub(crate) fn mount_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &Repository,
        step: &str,
    ) -> Result<bool, RegistryError> {
        let call = Call::new(
            "POST",
            format!(
                "/v2/{}/blobs/uploads/?mount={}&from={}",
                repo.path(),
                url_encode(digest.as_str()),
                url_encode(from.path())
            ),
        );
        self.retrying(repo, step, || {
            let answer = self.attempt(repo, &call)?;
            match answer.status {
                201 => Ok(true),
                202 => Ok(false),
                _ => Err(AttemptError::Fatal(answer.describe())),
            }
        })
    }

    /// POST an upload; the Location to send to.
    fn open_upload(&self, repo: &Repository) -> Result<String, AttemptError> {
        let start = Call::new("POST", format!("/v2/{}/blobs/uploads/", repo.path()));
        let opened = self.attempt(repo, &start)?;
        if opened.status != 202 {
            return Err(AttemptError::Fatal(format!(
                "starting the upload: {}",
                opened.describe()
            )));
        }
        let location = opened.header("location").ok_or_else(|| {
            AttemptError::Fatal("the registry started an upload but gave no Location".into())
        })?;
        self.resolve_location(&start.target, location)
    }

    /// A Location as an absolute URL: absolute ones as given (on whatever host), others
    /// resolved against the request that returned them (`request` is its target).
    fn resolve_location(&self, request: &str, location: &str) -> Result<String, AttemptError> {
        let base = self.url(request)?;
        Ok(resolve(&base, location))
    }

    fn upload_chunks(
        &self,
        repo: &Repository,
        digest: &Digest,
        payload: Payload<'_>,
        size: u64,
        mut location: String,
    ) -> Result<(), AttemptError> {
        let chunk = self.uploads.chunk_size.max(1);
        let mut offset = 0;
        while offset < size {
            let len = chunk.min(size - offset);
            let bytes = read_range(payload, offset, len)?;
            let mut patch = Call::new("PATCH", location.clone());
            patch.content_type = Some(OCTET_STREAM);
            patch.content_range = Some(format!("{offset}-{}", offset + len - 1));
            patch.payload = Payload::Bytes(&bytes);
            let answer = self.attempt(repo, &patch)?;
            if !matches!(answer.status, 201 | 202 | 204) {
                let hint = if answer.status == 416 || answer.status == 413 {
                    " (the registry may take smaller chunks: --chunk-size)"
                } else {
                    ""
                };
                return Err(AttemptError::Fatal(format!(
                    "sending bytes {offset}-{} of {size}: {}{hint}",
                    offset + len - 1,
                    answer.describe()
                )));
            }
            if let Some(next) = answer.header("location") {
                location = resolve(&location, next);
            }
            offset = next_offset(answer.header("range"), offset, offset + len)
                .map_err(AttemptError::Fatal)?;
        }
        let mut put = Call::new("PUT", with_digest(&location, digest));
        put.content_type = Some(OCTET_STREAM);
        let done = self.attempt(repo, &put)?;
        match done.status {
            201 => Ok(()),
            _ => Err(AttemptError::Fatal(format!(
                "completing the chunked upload: {}",
                done.describe()
            ))),
        }
    }
}

/// `location` with `digest=` added to its query.
fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={}", url_encode(digest.as_str()))
}

/// Resolve a Location against the absolute URL `base` (RFC 3986 for the forms registries
/// use): `scheme://...` as is, `//host/...` with base's scheme, `/path` on base's host, and
/// anything else relative to base's directory.
fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    if let Some(net) = location.strip_prefix("//") {
        return format!("{scheme}://{net}");
    }
    let host_end = rest.find('/').unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..host_end]);
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    let path = rest[host_end..].split(['?', '#']).next().unwrap_or("");
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{origin}{dir}/{location}")
}

/// Where the next chunk starts: after the last byte the registry says it has (`Range: 0-N`
/// or `bytes=0-N`), else after what was sent. Progress is required: a registry that reports
/// no new bytes, or more than was sent, is an error (and the loop cannot spin).
fn next_offset(range: Option<&str>, start: u64, sent_end: u64) -> Result<u64, String> {
    let Some(range) = range else {
        return Ok(sent_end);
    };
    let spec = range.trim().trim_start_matches("bytes=");
    let last: Option<u64> = spec
        .split_once('-')
        .and_then(|(_, end)| end.trim().parse().ok());
    match last {
        Some(last) if last + 1 > start && last < sent_end => Ok(last + 1),
        _ => Err(format!(
            "the registry reports Range {range:?} after bytes {start}-{} were sent",
            sent_end.saturating_sub(1)
        )),
    }
}

/// `len` bytes of the payload from `offset`.
fn read_range(payload: Payload<'_>, offset: u64, len: u64) -> Result<Vec<u8>, AttemptError> {
    match payload {
        Payload::Empty => Ok(Vec::new()),
        Payload::Bytes(b) => {
            let start = usize::try_from(offset).unwrap_or(usize::MAX).min(b.len());
            let end = usize::try_from(offset + len)
                .unwrap_or(usize::MAX)
                .min(b.len());
            Ok(b[start..end].to_vec())
        }
        Payload::File(path) => {
            let fail = |e: std::io::Error| {
                AttemptError::Fatal(format!("cannot read {}: {e}", path.display()))
            };
            let mut file = File::open(path).map_err(fail)?;
            file.seek(SeekFrom::Start(offset)).map_err(fail)?;
            let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.take(len).read_to_end(&mut buf).map_err(fail)?;
            if (buf.len() as u64) < len {
                return Err(AttemptError::Fatal(format!(
                    "{} is shorter than expected",
                    path.display()
                )));
            }
            Ok(buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_in_every_form() {
        let base = "http://127.0.0.1:5000/v2/team/app/blobs/uploads/";
        assert_eq!(
            resolve(base, "https://uploads.example/x?_state=1"),
            "https://uploads.example/x?_state=1"
        );
        assert_eq!(
            resolve(base, "/v2/team/app/blobs/uploads/u1?_state=2"),
            "http://127.0.0.1:5000/v2/team/app/blobs/uploads/u1?_state=2"
        );
        assert_eq!(
            resolve(base, "u1?_state=3"),
            "http://127.0.0.1:5000/v2/team/app/blobs/uploads/u1?_state=3"
        );
        assert_eq!(
            resolve(
                "https://r.example/v2/a/blobs/uploads/u1?x=1",
                "//other.example/up/9"
            ),
            "https://other.example/up/9"
        );
    }

    #[test]
    fn the_range_reported_says_where_the_next_chunk_starts() {
        assert_eq!(next_offset(None, 0, 100), Ok(100));
        assert_eq!(next_offset(Some("0-99"), 0, 100), Ok(100));
        assert_eq!(next_offset(Some("bytes=0-199"), 100, 200), Ok(200));
        // The registry kept only part of the chunk: resend from there.
        assert_eq!(next_offset(Some("0-149"), 100, 200), Ok(150));
        // No progress, or more than was sent: refused rather than looped on.
        assert!(next_offset(Some("0-99"), 100, 200).is_err());
        assert!(next_offset(Some("0-250"), 100, 200).is_err());
        assert!(next_offset(Some("garbage"), 0, 100).is_err());
    }

    #[test]
    fn digest_joins_the_query() {
        let d = Digest::of(b"x");
        assert!(with_digest("http://h/u?_state=1", &d).contains("?_state=1&digest=sha256%3A"));
        assert!(with_digest("http://h/u", &d).contains("/u?digest=sha256%3A"));
    }

    #[test]
    fn ranges_of_bytes_and_files() {
        assert_eq!(read_range(Payload::Bytes(b"abcdef"), 2, 3).unwrap(), b"cde");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_range(Payload::File(&path), 4, 4).unwrap(), b"4567");
        assert!(read_range(Payload::File(&path), 8, 4).is_err());
    }
}
