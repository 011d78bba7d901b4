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
//! are pushed as they are. [`open`] only reads the config and locates the layers; a layer is
//! compressed when [`OpenedImage::prepare`] is asked for it, so a push can skip the ones the
//! registry already has. Every layer prepared has its uncompressed sha256 checked against the
//! config's `rootfs.diff_ids`, so a damaged archive is refused instead of pushed.

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

use crate::oci::{Descriptor, Digest, PlatformSpec, MEDIA_TYPE_IMAGE_CONFIG};
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

/// How a layer is stored in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerEncoding {
    /// A plain tar: ship gzips it to push it.
    Tar,
    /// Already compressed: pushed as it is.
    Gzip,
    Zstd,
}

/// One layer of an opened archive, before anything of it is compressed.
#[derive(Debug, Clone)]
pub struct ArchiveLayer {
    /// Its name in the archive (streamLayeredImage: `<sha256>/layer.tar`).
    pub name: String,
    pub encoding: LayerEncoding,
    /// Bytes it takes in the archive (the uncompressed size, for a plain tar).
    pub archived_size: u64,
    /// sha256 of the uncompressed tar: the config's `rootfs.diff_ids` entry, or, for a plain
    /// tar whose config lists none, hashed when the archive was opened. `None` only for a
    /// compressed layer the config lists no diff_id for (learned when it is prepared).
    pub diff_id: Option<Digest>,
    section: tar_index::Section,
}

/// One layer blob, compressed (or copied) into the image's temporary directory.
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

/// IMAGE opened: its config read and its layers located, nothing compressed yet. Layers are
/// compressed on demand ([`OpenedImage::prepare`]), so a layer the registry already has
/// need never be. A spooled or decompressed copy of IMAGE and the prepared blobs live in a
/// temporary directory removed when this is dropped.
#[derive(Debug)]
pub struct OpenedImage {
    /// IMAGE as given, for messages.
    pub source: PathBuf,
    /// The platform the config names.
    pub platform: Platform,
    /// os/architecture/variant as the config spells them (for index entries).
    pub platform_spec: PlatformSpec,
    pub layers: Vec<ArchiveLayer>,
    raw_config: serde_json::Value,
    tar: File,
    workdir: workdir::Workdir,
}

/// Open IMAGE (a docker-archive, possibly compressed, or a streamLayeredImage script): read
/// its manifest and config and locate its layers. Reads no layer data when the config lists
/// the diff_ids, as docker-archives and streamLayeredImage do.
pub fn open(source: &Path) -> Result<OpenedImage> {
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

    let mut layers = Vec::with_capacity(docker_manifest.layers.len());
    for (i, name) in docker_manifest.layers.iter().enumerate() {
        let section = tar_index::resolve(&entries, name, source)?;
        let in_layer = |e: io::Error| invalid(format!("layer {} ({name}): {e}", i + 1));
        let encoding = layers::encoding(&tar, section).map_err(in_layer)?;
        let listed = image_config.diff_ids.as_ref().map(|ids| ids[i].clone());
        let diff_id = match (listed, encoding) {
            (Some(id), _) => Some(id),
            (None, LayerEncoding::Tar) => Some(layers::hash(&tar, section).map_err(in_layer)?),
            (None, _) => None,
        };
        layers.push(ArchiveLayer {
            name: name.clone(),
            encoding,
            archived_size: section.size(),
            diff_id,
            section,
        });
    }
    Ok(OpenedImage {
        source: source.to_owned(),
        platform: image_config.platform,
        platform_spec: image_config.platform_spec,
        layers,
        raw_config: image_config.raw,
        tar,
        workdir,
    })
}

impl OpenedImage {
    /// Compress (or copy) the layers at `indices` into the temporary directory, on as many
    /// threads as there are cores; in the order given. Each must have the diff_id the config
    /// lists for it, or the archive is refused as corrupt.
    pub fn prepare(&self, indices: &[usize]) -> Result<Vec<PreparedLayer>> {
        let jobs: Vec<&ArchiveLayer> = indices.iter().map(|&i| &self.layers[i]).collect();
        let prepared = layers::prepare_layers(&self.tar, &jobs, self.workdir.path(), indices)
            .map_err(|(i, e)| {
                ArchiveError::invalid(
                    &self.source,
                    format!("layer {} ({}): {e}", i + 1, self.layers[i].name),
                )
            })?;
        for (&i, layer) in indices.iter().zip(&prepared) {
            if let Some(expected) = &self.layers[i].diff_id {
                if *expected != layer.diff_id {
                    return Err(ArchiveError::invalid(
                        &self.source,
                        format!(
                            "layer {} ({}) has sha256 {} but the image config says {expected}: the archive is corrupt",
                            i + 1,
                            self.layers[i].name,
                            layer.diff_id,
                        ),
                    ));
                }
            }
        }
        Ok(prepared)
    }

    /// The OCI image config for these layer diff_ids, canonical JSON.
    pub fn config(&self, diff_ids: &[Digest]) -> Vec<u8> {
        config::oci_config(&self.raw_config, diff_ids)
    }

    /// The descriptor of `config` bytes as an image config.
    pub fn config_descriptor(config: &[u8]) -> Descriptor {
        Descriptor {
            media_type: MEDIA_TYPE_IMAGE_CONFIG.to_owned(),
            digest: Digest::of(config),
            size: config.len() as u64,
            platform: None,
        }
    }
}
