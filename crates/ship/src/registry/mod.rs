//! Pushing to an OCI Distribution registry (ghcr.io, Docker Hub, the Distribution registry,
//! ...) with no Docker daemon.
//!
//! - [`Client`]: one registry host; auth (basic, bearer tokens), TLS, retries.
//! - [`push_image`]: an image the flake built -> blobs + OCI manifest, pushed by digest.
//! - [`push_index`]: the multi-platform index of pushed images, then its tags.
//!
//! ```no_run
//! use ship::platform::Platform;
//! use ship::registry::{push_image, push_index, Client, ClientOptions, Repository};
//! # fn main() -> Result<(), ship::registry::RegistryError> {
//! let repo: Repository = Repository::parse("ghcr.io/o/n")?;
//! let client = Client::from_env(&repo, ClientOptions::default())?;
//! let amd64 = push_image(&client, "result".as_ref(), &repo, Some(Platform::Amd64))?;
//! let index = push_index(&client, &repo, &[(amd64.manifest_digest, Platform::Amd64)], &["1.2.3".into()])?;
//! println!("{}", index.digest);
//! # Ok(()) }
//! ```

pub mod auth;
mod client;
mod index;
mod layer_record;
pub mod limits;
mod push;
pub mod reference;
pub mod retry;

pub use auth::{credentials_from_flags, Credentials, Secret};
pub use client::{Client, ClientOptions, FetchedBytes, UploadOptions, DEFAULT_CHUNK_SIZE};
pub use index::{push_index, IndexEntry, PushedIndex, TagOutcome, TagStatus};
pub use limits::Limits;
pub use push::{
    describe_event, push_image, push_image_with, BlobKind, BlobOutcome, Event, PushedImage,
    RecordOutcome, Resolution,
};
pub use reference::{parse_child, Repository};
pub use retry::RetryPolicy;

use crate::archive::ArchiveError;

/// Everything that can stop a push. Messages name the registry and repository
/// (`ghcr.io/o/n: uploading layer sha256:…: 401 Unauthorized: …`) or the image file; they
/// never contain a password or token.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A request to the registry failed (after retries, when the failure was transient).
    #[error("{target}: {step}: {detail}")]
    Request {
        /// `registry/repository`.
        target: String,
        /// What ship was doing, e.g. `uploading layer sha256:…`.
        step: String,
        detail: String,
    },
    /// The overall deadline (`--timeout`) ran out while doing `step`.
    #[error("{target}: {step}: {detail}")]
    Deadline {
        target: String,
        step: String,
        detail: String,
    },
    /// The index is in the registry but some tags could not be pointed at it; the outcome
    /// of every tag is in the index's report.
    #[error("{}", partly_tagged(.0))]
    PartlyTagged(Box<PushedIndex>),
    /// Refused before writing anything (push-index checks, platform mismatch).
    #[error("{target}: {message}")]
    Refused { target: String, message: String },
    /// Bad options (CA file, arguments).
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Reference(#[from] reference::ReferenceError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
}

fn partly_tagged(index: &PushedIndex) -> String {
    let failed = index.failed_tags();
    let names = |tags: Vec<&TagOutcome>| {
        if tags.is_empty() {
            "none".to_owned()
        } else {
            tags.iter()
                .map(|t| t.tag.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let applied = names(
        index
            .tags
            .iter()
            .filter(|t| t.status != TagStatus::Failed)
            .collect(),
    );
    let reasons = failed
        .iter()
        .map(|t| format!("{}: {}", t.tag, t.error.as_deref().unwrap_or("?")))
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "{}: index {} is pushed, but {} of {} tags do not point at it ({reasons}); tags that point at it: {applied}",
        index.repository,
        index.digest,
        failed.len(),
        index.tags.len(),
    )
}

impl RegistryError {
    /// The message without the `registry/repository: step:` prefix, where there is one.
    pub fn detail(&self) -> String {
        match self {
            Self::Request { detail, .. } | Self::Deadline { detail, .. } => detail.clone(),
            Self::Refused { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    pub(crate) fn request(repo: &Repository, step: &str, detail: impl Into<String>) -> Self {
        Self::Request {
            target: repo.to_string(),
            step: step.to_owned(),
            detail: detail.into(),
        }
    }
    pub(crate) fn refused(repo: &Repository, message: impl Into<String>) -> Self {
        Self::Refused {
            target: repo.to_string(),
            message: message.into(),
        }
    }
}
