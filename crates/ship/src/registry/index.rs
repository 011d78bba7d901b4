//! push-index: checks every child before it writes anything, publishes the multi-platform
//! index, then points the tags at it (tags last), and reports what each tag did.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::oci::{
    ConfigPlatform, Descriptor, Digest, FetchedManifest, ImageIndex, IMAGE_MANIFEST_TYPES,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_IMAGE_INDEX, MEDIA_TYPE_IMAGE_MANIFEST,
};
use crate::platform::Platform;

use super::client::Client;
use super::push::plural;
use super::reference::{is_valid_tag, Repository};
use super::RegistryError;

/// Accept header for reading any manifest by digest or tag.
const ACCEPT_ANY_MANIFEST: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// One child of a pushed index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexEntry {
    pub digest: Digest,
    /// e.g. `linux/amd64`, as checked against the child's config.
    pub platform: Platform,
    pub media_type: String,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TagStatus {
    /// The tag did not exist.
    Created,
    /// The tag pointed at another manifest (`previous`).
    Moved,
    /// The tag already pointed at this index: nothing was written.
    Unchanged,
    /// The tag could not be read or written (`error` says why): it does not point at this
    /// index (it points where it did before, if anywhere).
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagOutcome {
    pub tag: String,
    pub status: TagStatus,
    pub previous: Option<Digest>,
    /// Why the tag was not applied (status `failed` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What [`push_index`] did. JSON field names are stable (`ship push-index --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct PushedIndex {
    pub repository: String,
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    /// Sorted by platform, as in the index.
    pub manifests: Vec<IndexEntry>,
    /// `false`: the registry already had this exact index.
    pub index_uploaded: bool,
    pub tags: Vec<TagOutcome>,
    pub retries: u32,
}

impl PushedIndex {
    /// Lines for people: the index, its children and what happened to each tag.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "index {}@{} ({}){}\n",
            self.repository,
            self.digest,
            self.manifests
                .iter()
                .map(|m| m.platform.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if self.index_uploaded {
                ""
            } else {
                ": already in the registry"
            }
        );
        for m in &self.manifests {
            out.push_str(&format!("  {} {}\n", m.platform, m.digest));
        }
        for t in &self.tags {
            let what = match t.status {
                TagStatus::Created => "created".to_owned(),
                TagStatus::Moved => format!(
                    "moved from {}",
                    t.previous.as_ref().map(Digest::as_str).unwrap_or("?")
                ),
                TagStatus::Unchanged => "already points at this index, changes nothing".to_owned(),
                TagStatus::Failed => format!(
                    "NOT applied (does not point at this index): {}",
                    t.error.as_deref().unwrap_or("?")
                ),
            };
            out.push_str(&format!("  tag {}: {what}\n", t.tag));
        }
        if self.tags.is_empty() {
            out.push_str(
                "no --tag given: the index is published untagged (reachable by its digest only)\n",
            );
        }
        if self.retries > 0 {
            out.push_str(&format!(
                "{} retried\n",
                plural(self.retries as usize, "request")
            ));
        }
        if self.changed_nothing() {
            out.push_str("nothing changed: the registry already had this index and every tag\n");
        }
        out
    }

    /// Tags that do not point at the index (status `failed`).
    pub fn failed_tags(&self) -> Vec<&TagOutcome> {
        self.tags
            .iter()
            .filter(|t| t.status == TagStatus::Failed)
            .collect()
    }

    /// True when the run wrote nothing at all (a re-run with the same inputs).
    pub fn changed_nothing(&self) -> bool {
        !self.index_uploaded && self.tags.iter().all(|t| t.status == TagStatus::Unchanged)
    }
}

/// Publish the OCI image index of `children` (manifest digests already in `repo`, with the
/// platform each must be) and point every tag at it.
///
/// Before writing anything, every child is fetched by digest and its config's os and
/// architecture compared with the platform given; a missing child or a mismatch refuses the
/// whole index. Then the index is PUT by digest (unless present), then each tag (unless it
/// already points there). The index JSON is canonical and sorted by platform, so the same
/// children always give the same digest. Every tag is tried even when one fails; if any is
/// not applied, the result is [`RegistryError::PartlyTagged`] carrying the full report.
pub fn push_index(
    client: &Client,
    repo: &Repository,
    children: &[(Digest, Platform)],
    tags: &[String],
) -> Result<PushedIndex, RegistryError> {
    let retries_before = client.retries();
    let tags = check_index_args(repo, children, tags)?;

    let mut descriptors = Vec::with_capacity(children.len());
    let mut entries = Vec::with_capacity(children.len());
    for (digest, platform) in children {
        let (descriptor, entry) = inspect_child(client, repo, digest, *platform)?;
        descriptors.push(descriptor);
        entries.push(entry);
    }
    entries.sort_by_key(|e| e.platform);

    let index = ImageIndex::new(descriptors).to_canonical_json();
    let digest = Digest::of(&index);
    let present = client
        .manifest_digest(
            repo,
            digest.as_str(),
            ACCEPT_ANY_MANIFEST,
            &format!("checking index {digest}"),
        )?
        .is_some();
    if !present {
        client.put_manifest(
            repo,
            digest.as_str(),
            MEDIA_TYPE_IMAGE_INDEX,
            &index,
            &format!("pushing index {digest}"),
        )?;
    }

    // Every tag is tried even when one is refused (each is independent), so the report can
    // say exactly which tags point at the index; a deadline that ran out stops the rest.
    let mut outcomes = Vec::with_capacity(tags.len());
    let mut out_of_time = None;
    for tag in tags {
        if let Some(why) = &out_of_time {
            outcomes.push(failed_tag(tag, format!("not tried: {why}")));
            continue;
        }
        match apply_tag(client, repo, &tag, &digest, &index) {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => {
                if let RegistryError::Deadline { detail, .. } = &e {
                    out_of_time = Some(detail.clone());
                }
                outcomes.push(failed_tag(tag, e.detail()));
            }
        }
    }

    let pushed = PushedIndex {
        repository: repo.to_string(),
        size: index.len() as u64,
        media_type: MEDIA_TYPE_IMAGE_INDEX.to_owned(),
        manifests: entries,
        index_uploaded: !present,
        tags: outcomes,
        retries: client.retries() - retries_before,
        digest,
    };
    if pushed.failed_tags().is_empty() {
        Ok(pushed)
    } else {
        Err(RegistryError::PartlyTagged(Box::new(pushed)))
    }
}

/// Point `tag` at the index (unless it already points there).
fn apply_tag(
    client: &Client,
    repo: &Repository,
    tag: &str,
    digest: &Digest,
    index: &[u8],
) -> Result<TagOutcome, RegistryError> {
    let current = client.manifest_digest(
        repo,
        tag,
        ACCEPT_ANY_MANIFEST,
        &format!("reading tag {tag}"),
    )?;
    let status = match &current {
        Some(d) if d == digest => TagStatus::Unchanged,
        Some(_) => TagStatus::Moved,
        None => TagStatus::Created,
    };
    if status != TagStatus::Unchanged {
        client.put_manifest(
            repo,
            tag,
            MEDIA_TYPE_IMAGE_INDEX,
            index,
            &format!("tagging {tag} -> {digest}"),
        )?;
    }
    Ok(TagOutcome {
        tag: tag.to_owned(),
        status,
        previous: current.filter(|_| status == TagStatus::Moved),
        error: None,
    })
}

fn failed_tag(tag: String, error: String) -> TagOutcome {
    TagOutcome {
        tag,
        status: TagStatus::Failed,
        previous: None,
        error: Some(error),
    }
}

/// Pure checks of push-index's arguments; returns the tags without duplicates, in order.
fn check_index_args(
    repo: &Repository,
    children: &[(Digest, Platform)],
    tags: &[String],
) -> Result<Vec<String>, RegistryError> {
    if children.is_empty() {
        return Err(RegistryError::refused(
            repo,
            "an index needs at least one DIGEST@PLATFORM",
        ));
    }
    let mut platforms = BTreeSet::new();
    for (digest, platform) in children {
        if !platforms.insert(*platform) {
            return Err(RegistryError::refused(
                repo,
                format!("platform {platform} is given twice (again for {digest}); an index has one image per platform"),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for tag in tags {
        if !is_valid_tag(tag) {
            return Err(RegistryError::refused(
                repo,
                format!(
                    "invalid tag {tag:?}: up to 128 of A-Z a-z 0-9 _ . -, not starting with . or -"
                ),
            ));
        }
        if seen.insert(tag.as_str()) {
            out.push(tag.clone());
        }
    }
    Ok(out)
}

/// The media type of a fetched child (the Content-Type when it names a manifest, else the
/// manifest's own `mediaType`), which must be an image manifest's, not an index's.
fn image_media_type(
    content_type: Option<String>,
    manifest: &FetchedManifest,
) -> Result<String, String> {
    let media_type = content_type
        .map(|c| c.split(';').next().unwrap_or_default().trim().to_owned())
        .filter(|c| IMAGE_MANIFEST_TYPES.contains(&c.as_str()) || is_index_type(c))
        .or(manifest.media_type.clone())
        .unwrap_or_else(|| MEDIA_TYPE_IMAGE_MANIFEST.to_owned());
    if is_index_type(&media_type) || manifest.manifests.is_some() {
        return Err("is itself an index; give the per-platform image manifests".into());
    }
    if !IMAGE_MANIFEST_TYPES.contains(&media_type.as_str()) {
        return Err(format!(
            "has media type {media_type}, not an image manifest"
        ));
    }
    Ok(media_type)
}

/// Fetch a child manifest and its config; refuse unless it is an image of `platform`.
fn inspect_child(
    client: &Client,
    repo: &Repository,
    digest: &Digest,
    platform: Platform,
) -> Result<(Descriptor, IndexEntry), RegistryError> {
    let refuse = |why: String| {
        RegistryError::refused(
            repo,
            format!("{digest} (given for {platform}) {why}; nothing was written"),
        )
    };
    let fetched = client
        .get_manifest(
            repo,
            digest.as_str(),
            ACCEPT_ANY_MANIFEST,
            &format!("fetching manifest {digest}"),
        )?
        .ok_or_else(|| refuse(format!("is not in {repo}: push it first (ship push-image)")))?;
    let (body, content_type) = (fetched.bytes, fetched.content_type);
    if Digest::of(&body) != *digest {
        return Err(refuse(
            "came back from the registry with content of another digest".into(),
        ));
    }
    let manifest: FetchedManifest =
        serde_json::from_slice(&body).map_err(|e| refuse(format!("is not a manifest ({e})")))?;
    let media_type = image_media_type(content_type, &manifest).map_err(refuse)?;
    let config = manifest
        .config
        .ok_or_else(|| refuse("has no config".into()))?;
    let config_bytes = client
        .get_blob(
            repo,
            &config.digest,
            &format!("fetching config {}", config.digest),
        )?
        .ok_or_else(|| {
            refuse(format!(
                "names config {} which is not in {repo}",
                config.digest
            ))
        })?;
    let found: ConfigPlatform = serde_json::from_slice(&config_bytes)
        .map_err(|e| refuse(format!("has a config that is not an image config ({e})")))?;
    let spec = found.spec();
    if Platform::from_os_arch(&found.os, &found.architecture) != Some(platform) {
        return Err(refuse(format!(
            "is a {}/{} image according to its config, not {platform}",
            found.os, found.architecture
        )));
    }
    let size = body.len() as u64;
    let descriptor = Descriptor {
        media_type: media_type.clone(),
        digest: digest.clone(),
        size,
        platform: Some(spec),
    };
    Ok((
        descriptor,
        IndexEntry {
            digest: digest.clone(),
            platform,
            media_type,
            size,
        },
    ))
}

fn is_index_type(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_IMAGE_INDEX || media_type == MEDIA_TYPE_DOCKER_MANIFEST_LIST
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> Repository {
        Repository::parse("127.0.0.1:5000/team/app").unwrap()
    }

    #[test]
    fn index_args_are_checked_before_any_request() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let e = check_index_args(&repo(), &[], &[]).unwrap_err().to_string();
        assert!(e.contains("at least one"), "{e}");
        let e = check_index_args(
            &repo(),
            &[(a.clone(), Platform::Amd64), (b.clone(), Platform::Amd64)],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("linux/amd64 is given twice"), "{e}");
        let e = check_index_args(
            &repo(),
            &[(a.clone(), Platform::Amd64)],
            &["bad/tag".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("invalid tag \"bad/tag\""), "{e}");
        let tags = check_index_args(
            &repo(),
            &[(a, Platform::Amd64), (b, Platform::Arm64)],
            &["1.2".into(), "latest".into(), "1.2".into()],
        )
        .unwrap();
        assert_eq!(tags, vec!["1.2".to_owned(), "latest".to_owned()]);
    }

    #[test]
    fn changed_nothing_needs_no_upload_and_unchanged_tags() {
        let mut p = PushedIndex {
            repository: "r/x".into(),
            digest: Digest::of(b"i"),
            size: 1,
            media_type: MEDIA_TYPE_IMAGE_INDEX.into(),
            manifests: vec![],
            index_uploaded: false,
            tags: vec![TagOutcome {
                tag: "t".into(),
                status: TagStatus::Unchanged,
                previous: None,
                error: None,
            }],
            retries: 0,
        };
        assert!(p.changed_nothing());
        assert!(p
            .summary()
            .contains("tag t: already points at this index, changes nothing"));
        assert!(p.summary().contains("nothing changed"));
        p.tags[0].status = TagStatus::Created;
        assert!(!p.changed_nothing());
        p.tags[0].status = TagStatus::Unchanged;
        p.index_uploaded = true;
        assert!(!p.changed_nothing());
    }
}
