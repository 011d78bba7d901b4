//! push-image: an image the flake built goes to the registry as blobs plus an OCI manifest,
//! by digest (never tagged), and what each blob did is reported.

use std::path::Path;

use serde::Serialize;

use crate::archive::{self, PreparedImage};
use crate::oci::{Digest, MEDIA_TYPE_IMAGE_MANIFEST};
use crate::platform::Platform;

use super::client::{Client, Payload};
use super::reference::Repository;
use super::RegistryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    Config,
    Layer,
}

/// One blob of a pushed image and whether it had to be uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobOutcome {
    pub kind: BlobKind,
    pub digest: Digest,
    /// Bytes as stored in the registry (compressed, for layers).
    pub size: u64,
    /// `false`: the registry already had it, or mounted it, and nothing was sent.
    pub uploaded: bool,
    /// The repository (same registry) the blob was mounted from instead of uploaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounted_from: Option<String>,
}

/// What [`push_image`] did. JSON field names are stable (`ship push-image --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct PushedImage {
    /// `registry/repository`.
    pub repository: String,
    pub manifest_digest: Digest,
    pub manifest_size: u64,
    pub media_type: String,
    /// From the image config, e.g. `linux/arm64`.
    pub platform: Platform,
    /// The config's `variant`, if it has one (e.g. `v8`).
    pub variant: Option<String>,
    pub config_digest: Digest,
    pub layers: usize,
    pub layers_uploaded: usize,
    pub layers_skipped: usize,
    /// Bytes sent, config included.
    pub bytes_uploaded: u64,
    /// Bytes the registry already had, config included.
    pub bytes_skipped: u64,
    /// Sum of the uncompressed layer sizes.
    pub uncompressed_bytes: u64,
    /// Config first, then layers in order.
    pub blobs: Vec<BlobOutcome>,
    /// Transient failures ridden out while pushing.
    pub retries: u32,
}

impl PushedImage {
    /// One line for people: what was pushed and what it cost.
    pub fn summary(&self) -> String {
        let retried = match self.retries {
            0 => String::new(),
            n => format!(", {} retried", plural(n as usize, "request")),
        };
        format!(
            "pushed {}@{} ({}): {} of {} uploaded, {} sent, {} already present{retried}",
            self.repository,
            self.manifest_digest,
            self.platform,
            self.layers_uploaded,
            plural(self.layers, "layer"),
            crate::human::bytes(self.bytes_uploaded),
            crate::human::bytes(self.bytes_skipped),
        )
    }
}

/// A progress line for an event.
pub fn describe_event(event: &Event<'_>) -> String {
    match event {
        Event::Prepared { image } => format!(
            "read {}: {}, {}, {} uncompressed",
            image.source.display(),
            image.platform,
            plural(image.layers.len(), "layer"),
            crate::human::bytes(image.layers.iter().map(|l| l.uncompressed_size).sum()),
        ),
        Event::Blob(b) => format!(
            "  {:<6} {} {:>10}  {}",
            match b.kind {
                BlobKind::Config => "config",
                BlobKind::Layer => "layer",
            },
            b.digest.short(),
            crate::human::bytes(b.size),
            match (&b.mounted_from, b.uploaded) {
                (Some(from), _) => format!("mounted from {from}"),
                (None, true) => "uploaded".to_owned(),
                (None, false) => "already present".to_owned(),
            }
        ),
        Event::ManifestPushed { digest } => format!("  manifest {digest}"),
    }
}

/// Progress of a push, for people watching.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// IMAGE was read and its layers compressed.
    Prepared { image: &'a PreparedImage },
    /// A blob was uploaded or found already present.
    Blob(&'a BlobOutcome),
    /// The manifest is in, under its digest.
    ManifestPushed { digest: &'a Digest },
}

/// Push IMAGE (a docker-archive, compressed or not, or a streamLayeredImage script) to
/// `repo` as an OCI image, by digest; no tag is written. When `platform` is given, the image
/// config must say the same. Blobs the registry already has are not sent.
pub fn push_image(
    client: &Client,
    source: &Path,
    repo: &Repository,
    platform: Option<Platform>,
) -> Result<PushedImage, RegistryError> {
    push_image_with(client, source, repo, platform, &mut |_| {})
}

/// [`push_image`], reporting progress to `on_event`.
pub fn push_image_with(
    client: &Client,
    source: &Path,
    repo: &Repository,
    platform: Option<Platform>,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<PushedImage, RegistryError> {
    let retries_before = client.retries();
    let image = archive::prepare(source)?;
    if let Some(wanted) = platform {
        if wanted != image.platform {
            return Err(RegistryError::refused(
                repo,
                format!(
                    "{} is a {} image (its config says so) but --platform says {wanted}",
                    source.display(),
                    image.platform
                ),
            ));
        }
    }
    on_event(Event::Prepared { image: &image });

    let mut blobs = Vec::with_capacity(image.layers.len() + 1);
    // The config goes first and alone: its HEAD answers the auth challenge once, so the
    // parallel layer uploads all reuse one token.
    let config = push_blob(
        client,
        repo,
        BlobKind::Config,
        &image.config_digest,
        image.config.len() as u64,
        Payload::Bytes(&image.config),
    )?;
    on_event(Event::Blob(&config));
    blobs.push(config);
    blobs.extend(push_layers(client, repo, &image, on_event)?);

    let manifest = image.manifest().to_canonical_json();
    let digest = Digest::of(&manifest);
    client.put_manifest(
        repo,
        digest.as_str(),
        MEDIA_TYPE_IMAGE_MANIFEST,
        &manifest,
        &format!("pushing manifest {digest}"),
    )?;
    on_event(Event::ManifestPushed { digest: &digest });

    let layer_blobs = || blobs.iter().filter(|b| b.kind == BlobKind::Layer);
    Ok(PushedImage {
        repository: repo.to_string(),
        manifest_size: manifest.len() as u64,
        media_type: MEDIA_TYPE_IMAGE_MANIFEST.to_owned(),
        platform: image.platform,
        variant: image.platform_spec.variant.clone(),
        config_digest: image.config_digest.clone(),
        layers: image.layers.len(),
        layers_uploaded: layer_blobs().filter(|b| b.uploaded).count(),
        layers_skipped: layer_blobs().filter(|b| !b.uploaded).count(),
        bytes_uploaded: blobs.iter().filter(|b| b.uploaded).map(|b| b.size).sum(),
        bytes_skipped: blobs.iter().filter(|b| !b.uploaded).map(|b| b.size).sum(),
        uncompressed_bytes: image.layers.iter().map(|l| l.uncompressed_size).sum(),
        blobs,
        retries: client.retries() - retries_before,
        manifest_digest: digest,
    })
}

/// Layer uploads in flight at once: registries are latency-bound per request, and images
/// with many small store-path layers gain most.
const PARALLEL_UPLOADS: usize = 4;

/// Check and upload every layer, a few at a time; outcomes in layer order. The first error
/// stops new uploads and is returned.
fn push_layers(
    client: &Client,
    repo: &Repository,
    image: &PreparedImage,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<BlobOutcome>, RegistryError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let layers = &image.layers;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut results: Vec<Option<BlobOutcome>> = vec![None; layers.len()];
    let mut first_error = None;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..PARALLEL_UPLOADS.min(layers.len()) {
            let tx = tx.clone();
            let (next, failed) = (&next, &failed);
            scope.spawn(move || loop {
                if failed.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(layer) = layers.get(i) else { break };
                let result = push_blob(
                    client,
                    repo,
                    BlobKind::Layer,
                    &layer.digest,
                    layer.size,
                    Payload::File(layer.path()),
                );
                if result.is_err() {
                    failed.store(true, Ordering::SeqCst);
                }
                if tx.send((i, result)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            match result {
                Ok(outcome) => {
                    on_event(Event::Blob(&outcome));
                    results[i] = Some(outcome);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    });
    if let Some(e) = first_error {
        return Err(e);
    }
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| {
                RegistryError::request(repo, &format!("uploading layer {}", i + 1), "not done")
            })
        })
        .collect()
}

fn push_blob(
    client: &Client,
    repo: &Repository,
    kind: BlobKind,
    digest: &Digest,
    size: u64,
    payload: Payload<'_>,
) -> Result<BlobOutcome, RegistryError> {
    let what = match kind {
        BlobKind::Config => "config",
        BlobKind::Layer => "layer",
    };
    let present = client.blob_exists(repo, digest, &format!("checking {what} {digest}"))?;
    let mut mounted_from = None;
    if !present {
        for from in client.mount_sources() {
            let step = format!("mounting {what} {digest} from {from}");
            if client.mount_blob(repo, digest, from, &step)? {
                mounted_from = Some(from.to_string());
                break;
            }
        }
    }
    let uploaded = !present && mounted_from.is_none();
    if uploaded {
        client.upload_blob(
            repo,
            digest,
            payload,
            size,
            &format!("uploading {what} {digest}"),
        )?;
    }
    Ok(BlobOutcome {
        kind,
        digest: digest.clone(),
        size,
        uploaded,
        mounted_from,
    })
}

/// `1 layer`, `3 layers`.
pub(super) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
