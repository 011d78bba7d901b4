//! Turns what the flake builds into the blobs of an OCI image, ready to push.
//!
//! Accepted inputs (recognised by their first bytes, not their names):
//! - a docker-archive (`docker save` / `dockerTools` format: `manifest.json`, a config JSON and
//!   one tar per layer), plain or compressed with gzip, zstd or xz;
//! - a `dockerTools.streamLayeredImage` script (`#!`...), which is run and its stdout spooled
//!   to a temporary file, because the archive it streams puts `manifest.json` last.
//!
//! Layers that are plain tars (what streamLayeredImage writes) are gzipped here with a fixed
//! level, no timestamp and no file name, by flate2's pure-Rust backend at the version pinned in
//! Cargo.lock: the same layer gives the same blob digest on any machine, with no local cache,
//! which is what lets a registry say "already have it". Layers that are already gzip or zstd
//! are pushed as they are. Every layer's uncompressed sha256 is checked against the config's
//! `rootfs.diff_ids`, so a damaged archive is refused instead of pushed.

mod config;
mod layers;
mod source;
mod tar_index;
mod workdir;

pub use config::oci_config;
pub use source::SourceKind;
pub use workdir::remove_all as remove_temporary_files;

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::oci::{Descriptor, Digest, ImageManifest, PlatformSpec, MEDIA_TYPE_IMAGE_CONFIG};
use crate::platform::Platform;

/// gzip level for layers ship compresses. Changing it changes every layer digest (and so
/// re-uploads everything once); it is part of the push format.
pub const GZIP_LEVEL: u32 = 6;

/// A failure to read or convert IMAGE; the message always starts with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: {context}: {source}")]
    Io {
        path: PathBuf,
        context: String,
        source: io::Error,
    },
}

impl ArchiveError {
    fn invalid(path: &Path, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_owned(),
            message: message.into(),
        }
    }
    fn io(path: &Path, context: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_owned();
        let context = context.into();
        move |source| Self::Io {
            path,
            context,
            source,
        }
    }
}

type Result<T, E = ArchiveError> = std::result::Result<T, E>;

/// One layer blob, compressed and stored in the image's temporary directory.
#[derive(Debug)]
pub struct PreparedLayer {
    /// Digest of the blob as pushed (compressed).
    pub digest: Digest,
    /// Size of the blob as pushed.
    pub size: u64,
    /// sha256 of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub diff_id: Digest,
    pub uncompressed_size: u64,
    pub media_type: &'static str,
    path: PathBuf,
}

impl PreparedLayer {
    /// The blob's bytes, for upload.
    pub fn open(&self) -> io::Result<File> {
        File::open(&self.path)
    }
    /// Where the blob is stored (inside the image's temporary directory).
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.to_owned(),
            digest: self.digest.clone(),
            size: self.size,
            platform: None,
        }
    }
}

/// An image read from IMAGE and converted to OCI: config bytes and layer blobs. The blobs live
/// in a temporary directory removed when this is dropped.
#[derive(Debug)]
pub struct PreparedImage {
    /// IMAGE as given, for messages.
    pub source: PathBuf,
    /// The OCI image config, canonical JSON.
    pub config: Vec<u8>,
    pub config_digest: Digest,
    /// The platform the config names.
    pub platform: Platform,
    /// os/architecture/variant as the config spells them (for index entries).
    pub platform_spec: PlatformSpec,
    pub layers: Vec<PreparedLayer>,
    _workdir: workdir::Workdir,
}

impl PreparedImage {
    pub fn config_descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: MEDIA_TYPE_IMAGE_CONFIG.to_owned(),
            digest: self.config_digest.clone(),
            size: self.config.len() as u64,
            platform: None,
        }
    }
    /// The OCI image manifest of this image.
    pub fn manifest(&self) -> ImageManifest {
        ImageManifest::new(
            self.config_descriptor(),
            self.layers.iter().map(PreparedLayer::descriptor).collect(),
        )
    }
}

/// Read IMAGE (a docker-archive, possibly compressed, or a streamLayeredImage script) and
/// convert it to an OCI config plus compressed layer blobs.
pub fn prepare(source: &Path) -> Result<PreparedImage> {
    let invalid = |m: String| ArchiveError::invalid(source, m);
    let workdir = workdir::Workdir::new()
        .map_err(ArchiveError::io(source, "creating a temporary directory"))?;
    let tar_path = source::materialize(source, workdir.path())?;
    let tar = File::open(&tar_path).map_err(ArchiveError::io(source, "opening"))?;
    let entries = tar_index::index_tar(&tar, source)?;

    let manifest_bytes = tar_index::read_entry(&tar, &entries, "manifest.json", source)?;
    let docker_manifest = config::parse_docker_manifest(&manifest_bytes)
        .map_err(|m| invalid(format!("manifest.json: {m}")))?;
    let config_bytes = tar_index::read_entry(&tar, &entries, &docker_manifest.config, source)?;
    let image_config =
        config::ImageConfig::parse(&config_bytes, &docker_manifest).map_err(invalid)?;

    let sections = docker_manifest
        .layers
        .iter()
        .map(|name| tar_index::resolve(&entries, name, source))
        .collect::<Result<Vec<_>>>()?;
    let layers = layers::compress_layers(
        &tar,
        &sections,
        &docker_manifest.layers,
        workdir.path(),
        source,
    )?;
    image_config
        .check_layers(&layers, &docker_manifest.layers)
        .map_err(invalid)?;
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    let config = config::oci_config(&image_config.raw, &diff_ids);
    Ok(PreparedImage {
        source: source.to_owned(),
        config_digest: Digest::of(&config),
        config,
        platform: image_config.platform,
        platform_spec: image_config.platform_spec,
        layers,
        _workdir: workdir,
    })
}
