//! push-image: an image the flake built goes to the registry as blobs plus an OCI manifest,
//! by digest (never tagged), and how each blob got there is reported.
//!
//! A layer is compressed only when the registry cannot say it has it: each plain-tar layer's
//! record ([`super::layer_record`]) is read first, by its diff_id, and a blob it names is used
//! once a HEAD shows the repository has it. Then the rest are compressed, checked, uploaded
//! (or mounted), and their records written. Nothing is written to the registry before every
//! layer that needs compressing has been compressed and checked against the config.

use std::path::Path;

use serde::Serialize;

use crate::archive::{self, LayerEncoding, OpenedImage, PreparedLayer};
use crate::oci::{Descriptor, Digest, ImageManifest, MEDIA_TYPE_IMAGE_MANIFEST};
use crate::platform::Platform;

use super::client::{Client, Payload};
use super::layer_record::{self, Found};
use super::reference::Repository;
use super::RegistryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobKind {
    Config,
    Layer,
}

/// How a blob came to be in the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// The layer's record named it and a HEAD showed the repository has it: the layer was
    /// neither read nor compressed.
    Recorded,
    /// Mounted from another repository of the registry (`mounted_from`).
    Mounted,
    /// The repository already had it (found by HEAD, after ship computed its digest).
    Present,
    /// Sent.
    Uploaded,
}

/// What became of a layer's record ([`super::layer_record`]) in this push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordOutcome {
    /// It was right and is left as it is.
    Kept,
    /// Written, or rewritten because it was missing, unusable or named a blob the repository
    /// lacked.
    Written,
    /// The registry refused to serve or store it (`record_error` says why); the push went on
    /// without it.
    Failed,
}

/// One blob of a pushed image and how it got there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobOutcome {
    pub kind: BlobKind,
    pub digest: Digest,
    /// Bytes as stored in the registry (compressed, for layers).
    pub size: u64,
    pub resolution: Resolution,
    /// `false`: the registry already had it, or mounted it, and nothing was sent.
    pub uploaded: bool,
    /// The repository (same registry) the blob was mounted from instead of uploaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounted_from: Option<String>,
    /// ship gzipped this layer in this push.
    pub compressed: bool,
    /// Layers: the sha256 of the uncompressed tar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<Digest>,
    /// Layers ship compresses (plain tars): what became of the layer's record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_error: Option<String>,
}

impl BlobOutcome {
    fn new(kind: BlobKind, blob: &Descriptor, resolution: Resolution) -> Self {
        Self {
            kind,
            digest: blob.digest.clone(),
            size: blob.size,
            resolution,
            uploaded: resolution == Resolution::Uploaded,
            mounted_from: None,
            compressed: false,
            diff_id: None,
            record: None,
            record_error: None,
        }
    }
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
    /// Layers found through their records: neither read nor compressed.
    pub layers_recorded: usize,
    /// Layers ship gzipped in this push.
    pub layers_compressed: usize,
    /// Layer records written or rewritten.
    pub records_written: usize,
    /// Layer records the registry would not serve or store.
    pub records_failed: usize,
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
        let unrecorded = match self.records_failed {
            0 => String::new(),
            n => format!(
                ", {} not kept (the registry refused: {})",
                plural(n, "layer record"),
                self.blobs
                    .iter()
                    .find_map(|b| b.record_error.as_deref())
                    .unwrap_or("?")
            ),
        };
        format!(
            "pushed {}@{} ({}): {} of {} uploaded, {} sent, {} already present, {} found by record, {} compressed{unrecorded}{retried}",
            self.repository,
            self.manifest_digest,
            self.platform,
            self.layers_uploaded,
            plural(self.layers, "layer"),
            crate::human::bytes(self.bytes_uploaded),
            crate::human::bytes(self.bytes_skipped),
            self.layers_recorded,
            self.layers_compressed,
        )
    }
}

/// A progress line for an event.
pub fn describe_event(event: &Event<'_>) -> String {
    match event {
        Event::Opened { image } => format!(
            "read {}: {}, {}, {} in the archive",
            image.source.display(),
            image.platform,
            plural(image.layers.len(), "layer"),
            crate::human::bytes(image.layers.iter().map(|l| l.archived_size).sum()),
        ),
        Event::Blob(b) => format!(
            "  {:<6} {} {:>10}  {}",
            match b.kind {
                BlobKind::Config => "config",
                BlobKind::Layer => "layer",
            },
            b.digest.short(),
            crate::human::bytes(b.size),
            match (b.resolution, &b.mounted_from) {
                (Resolution::Recorded, _) => "found by its record".to_owned(),
                (Resolution::Mounted, Some(from)) => format!("mounted from {from}"),
                (Resolution::Mounted, None) => "mounted".to_owned(),
                (Resolution::Present, _) => "already present".to_owned(),
                (Resolution::Uploaded, _) => "uploaded".to_owned(),
            },
        ),
        Event::ManifestPushed { digest } => format!("  manifest {digest}"),
    }
}

/// Progress of a push, for people watching.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// IMAGE was opened: config read, layers located, nothing compressed yet.
    Opened { image: &'a OpenedImage },
    /// A blob is in the repository (how: its outcome).
    Blob(&'a BlobOutcome),
    /// The manifest is in, under its digest.
    ManifestPushed { digest: &'a Digest },
}

/// Push IMAGE (a docker-archive, compressed or not, or a streamLayeredImage script) to
/// `repo` as an OCI image, by digest; no tag is written. When `platform` is given, the image
/// config must say the same. Blobs the registry already has are not sent, and layers it
/// holds a record of are not compressed.
pub fn push_image(
    client: &Client,
    source: &Path,
    repo: &Repository,
    platform: Option<Platform>,
) -> Result<PushedImage, RegistryError> {
    push_image_with(client, source, repo, platform, &mut |_| {})
}

/// What the registry said of a layer before anything was compressed.
#[derive(Debug)]
enum Known {
    /// In the repository under `blob` (record kept, or mounted and record to write).
    Stored {
        outcome: Box<BlobOutcome>,
        blob: Descriptor,
        diff_id: Digest,
    },
    /// To compress and push; `record_error` if its record could not be read.
    Unknown { record_error: Option<String> },
    /// Already compressed in the archive: pushed as it is, no record.
    AsArchived,
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
    let image = archive::open(source)?;
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
    on_event(Event::Opened { image: &image });

    // Read-only requests first. When the config lists every diff_id, the image config is
    // known before any layer is read: its HEAD goes first and alone, so that it answers the
    // auth challenge and the parallel requests after it reuse one token.
    let listed: Option<Vec<Digest>> = image.layers.iter().map(|l| l.diff_id.clone()).collect();
    let early_config = match listed {
        Some(ids) => {
            let config = image.config(&ids);
            let digest = Digest::of(&config);
            let present =
                client.blob_exists(repo, &digest, &format!("checking config {digest}"))?;
            Some((config, present))
        }
        None => None,
    };
    // Then what the registry already has, by record.
    let known = in_parallel(
        &image.layers,
        |layer| look_up(client, repo, layer),
        &mut |_| {},
    )?;
    let to_prepare: Vec<usize> = (0..known.len())
        .filter(|&i| !matches!(known[i], Known::Stored { .. }))
        .collect();
    let prepared = image.prepare(&to_prepare)?;

    let (diff_ids, descriptors, uncompressed_bytes) =
        assemble(&image, &known, &to_prepare, &prepared).ok_or_else(|| {
            RegistryError::request(repo, "preparing layers", "a layer was not prepared")
        })?;
    let config = image.config(&diff_ids);
    let config_descriptor = OpenedImage::config_descriptor(&config);

    let config_outcome = match early_config {
        Some((early, true)) if early == config => {
            BlobOutcome::new(BlobKind::Config, &config_descriptor, Resolution::Present)
        }
        _ => push_blob(
            client,
            repo,
            BlobKind::Config,
            &config_descriptor,
            Payload::Bytes(&config),
        )?,
    };
    on_event(Event::Blob(&config_outcome));

    // The empty blob records name goes before any layer: a small upload, sent whole even
    // where large bodies will be refused and sent in chunks.
    let records_ready = known
        .iter()
        .any(|k| match k {
            Known::Stored { outcome, .. } => outcome.record == Some(RecordOutcome::Written),
            Known::Unknown { .. } => true,
            Known::AsArchived => false,
        })
        .then(|| layer_record::ensure_empty_config(client, repo));

    let mut layer_outcomes = push_layers(
        client,
        repo,
        &image,
        &known,
        &to_prepare,
        &prepared,
        on_event,
    )?;
    write_records(client, repo, records_ready, &mut layer_outcomes)?;

    let manifest = ImageManifest::new(config_descriptor.clone(), descriptors).to_canonical_json();
    let digest = Digest::of(&manifest);
    client.put_manifest(
        repo,
        digest.as_str(),
        MEDIA_TYPE_IMAGE_MANIFEST,
        &manifest,
        &format!("pushing manifest {digest}"),
    )?;
    on_event(Event::ManifestPushed { digest: &digest });

    let mut blobs = Vec::with_capacity(layer_outcomes.len() + 1);
    blobs.push(config_outcome);
    blobs.extend(layer_outcomes);
    let layer_blobs = || blobs.iter().filter(|b| b.kind == BlobKind::Layer);
    let records = |r: RecordOutcome| layer_blobs().filter(|b| b.record == Some(r)).count();
    Ok(PushedImage {
        repository: repo.to_string(),
        manifest_size: manifest.len() as u64,
        media_type: MEDIA_TYPE_IMAGE_MANIFEST.to_owned(),
        platform: image.platform,
        variant: image.platform_spec.variant.clone(),
        config_digest: config_descriptor.digest,
        layers: image.layers.len(),
        layers_uploaded: layer_blobs().filter(|b| b.uploaded).count(),
        layers_skipped: layer_blobs().filter(|b| !b.uploaded).count(),
        layers_recorded: layer_blobs()
            .filter(|b| b.resolution == Resolution::Recorded)
            .count(),
        layers_compressed: layer_blobs().filter(|b| b.compressed).count(),
        records_written: records(RecordOutcome::Written),
        records_failed: records(RecordOutcome::Failed),
        bytes_uploaded: blobs.iter().filter(|b| b.uploaded).map(|b| b.size).sum(),
        bytes_skipped: blobs.iter().filter(|b| !b.uploaded).map(|b| b.size).sum(),
        uncompressed_bytes,
        blobs,
        retries: client.retries() - retries_before,
        manifest_digest: digest,
    })
}

/// Each layer's diff_id and descriptor, in order, and the sum of the uncompressed sizes: from
/// the record for a layer the registry has, else from the blob prepared (`prepared[j]` is
/// layer `to_prepare[j]`). `None` if a layer is neither.
fn assemble(
    image: &OpenedImage,
    known: &[Known],
    to_prepare: &[usize],
    prepared: &[PreparedLayer],
) -> Option<(Vec<Digest>, Vec<Descriptor>, u64)> {
    let mut diff_ids = Vec::with_capacity(known.len());
    let mut descriptors = Vec::with_capacity(known.len());
    let mut uncompressed_bytes = 0;
    for (i, k) in known.iter().enumerate() {
        if let Known::Stored { blob, diff_id, .. } = k {
            diff_ids.push(diff_id.clone());
            descriptors.push(blob.clone());
            uncompressed_bytes += image.layers[i].archived_size;
        } else {
            let layer = &prepared[to_prepare.iter().position(|&p| p == i)?];
            diff_ids.push(layer.diff_id.clone());
            descriptors.push(layer.descriptor());
            uncompressed_bytes += layer.uncompressed_size;
        }
    }
    Some((diff_ids, descriptors, uncompressed_bytes))
}

/// Every layer's outcome, in order: those the registry has as they were found, the prepared
/// ones (`prepared[j]` is layer `to_prepare[j]`) checked and uploaded or mounted, a few at a
/// time, each marked for its record to be written if ship compressed it.
fn push_layers(
    client: &Client,
    repo: &Repository,
    image: &OpenedImage,
    known: &[Known],
    to_prepare: &[usize],
    prepared: &[PreparedLayer],
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<BlobOutcome>, RegistryError> {
    let mut outcomes: Vec<Option<BlobOutcome>> = vec![None; known.len()];
    for (i, k) in known.iter().enumerate() {
        if let Known::Stored { outcome, .. } = k {
            on_event(Event::Blob(outcome));
            outcomes[i] = Some(BlobOutcome::clone(outcome));
        }
    }
    let jobs: Vec<(usize, &PreparedLayer)> = to_prepare.iter().copied().zip(prepared).collect();
    let pushed = in_parallel(
        &jobs,
        |&(i, layer)| {
            let mut outcome = push_blob(
                client,
                repo,
                BlobKind::Layer,
                &layer.descriptor(),
                Payload::File(layer.path()),
            )?;
            outcome.diff_id = Some(layer.diff_id.clone());
            if let Known::Unknown { record_error } = &known[i] {
                outcome.compressed = image.layers[i].encoding == LayerEncoding::Tar;
                outcome.record = Some(RecordOutcome::Written);
                outcome.record_error = record_error.clone();
            }
            Ok(outcome)
        },
        &mut |o| on_event(Event::Blob(o)),
    )?;
    for (&(i, _), outcome) in jobs.iter().zip(pushed) {
        outcomes[i] = Some(outcome);
    }
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            o.ok_or_else(|| {
                RegistryError::request(repo, &format!("pushing layer {}", i + 1), "not done")
            })
        })
        .collect()
}

/// What the registry can say of `layer` without it being compressed: its record in `repo`,
/// checked by HEAD; failing that, a record in a mount source, checked by mounting.
fn look_up(
    client: &Client,
    repo: &Repository,
    layer: &archive::ArchiveLayer,
) -> Result<Known, RegistryError> {
    let (LayerEncoding::Tar, Some(diff_id)) = (layer.encoding, &layer.diff_id) else {
        return Ok(Known::AsArchived);
    };
    let stored = |blob: Descriptor, resolution, record, mounted_from: Option<String>| {
        let mut outcome = BlobOutcome::new(BlobKind::Layer, &blob, resolution);
        outcome.diff_id = Some(diff_id.clone());
        outcome.record = Some(record);
        outcome.mounted_from = mounted_from;
        Known::Stored {
            outcome: Box::new(outcome),
            blob,
            diff_id: diff_id.clone(),
        }
    };
    let mut candidates = Vec::new();
    match layer_record::read(client, repo, diff_id)? {
        Found::Blob(blob) => {
            let step = format!("checking layer {} (from its record)", blob.digest);
            match client.blob_head(repo, &blob.digest, &step)? {
                Some(size) if size.is_none_or(|n| n == blob.size) => {
                    return Ok(stored(
                        blob,
                        Resolution::Recorded,
                        RecordOutcome::Kept,
                        None,
                    ));
                }
                // A record whose size is not the blob's is wrong: the layer is pushed and its
                // record rewritten as if there were none.
                Some(_) => return Ok(Known::Unknown { record_error: None }),
                None => {}
            }
            // The record outlived its blob (deleted, or collected by a registry that does
            // not follow tags): another repository may still have it.
            candidates.extend(
                client
                    .mount_sources()
                    .iter()
                    .map(|from| (from, blob.clone())),
            );
        }
        Found::Nothing => {}
        Found::Unreadable(why) => {
            return Ok(Known::Unknown {
                record_error: Some(why),
            })
        }
    }
    for from in client.mount_sources() {
        // A source is only a hint: one this client may not read is passed over.
        if let Ok(Found::Blob(blob)) = layer_record::read(client, from, diff_id) {
            candidates.push((from, blob));
        }
    }
    for (from, blob) in candidates {
        let step = format!("mounting layer {} from {from}", blob.digest);
        if client.mount_blob(repo, &blob.digest, from, &step)? {
            let from = Some(from.to_string());
            return Ok(stored(
                blob,
                Resolution::Mounted,
                RecordOutcome::Written,
                from,
            ));
        }
    }
    Ok(Known::Unknown { record_error: None })
}

/// Write the record of every layer marked `Written` (to be written) so far, once `ready` (the
/// records' empty config stored) succeeded. A record the registry refuses is reported as
/// `Failed`, never fatal: the image is complete without it. Only the overall deadline running
/// out stops the push here.
fn write_records(
    client: &Client,
    repo: &Repository,
    ready: Option<Result<(), RegistryError>>,
    outcomes: &mut [BlobOutcome],
) -> Result<(), RegistryError> {
    let wanted = |o: &BlobOutcome| o.record == Some(RecordOutcome::Written);
    let todo: Vec<(Digest, Descriptor)> = outcomes
        .iter()
        .filter(|o| wanted(o))
        .filter_map(|o| {
            let blob = Descriptor {
                media_type: crate::oci::MEDIA_TYPE_LAYER_GZIP.to_owned(),
                digest: o.digest.clone(),
                size: o.size,
                platform: None,
            };
            Some((o.diff_id.clone()?, blob))
        })
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let refusal = |e: RegistryError| match e {
        RegistryError::Deadline { .. } => Err(e),
        other => Ok(Err(other.to_string())),
    };
    let results = match ready.unwrap_or_else(|| layer_record::ensure_empty_config(client, repo)) {
        Ok(()) => in_parallel(
            &todo,
            |(diff_id, blob)| match layer_record::write(client, repo, diff_id, blob) {
                Ok(()) => Ok(Ok(())),
                Err(e) => refusal(e),
            },
            &mut |_| {},
        )?,
        Err(e) => vec![refusal(e)?; todo.len()],
    };
    for (o, result) in outcomes.iter_mut().filter(|o| wanted(o)).zip(results) {
        if let Err(why) = result {
            o.record = Some(RecordOutcome::Failed);
            o.record_error = Some(why);
        } else {
            o.record_error = None;
        }
    }
    Ok(())
}

/// Layer requests in flight at once: registries are latency-bound per request, and images
/// with many small store-path layers gain most.
const PARALLEL_REQUESTS: usize = 4;

/// `job` for every item, a few at a time; results in item order, `on_done` called as each
/// one finishes. The first error stops new jobs and is returned.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    job: impl Fn(&T) -> Result<R, RegistryError> + Sync,
    on_done: &mut dyn FnMut(&R),
) -> Result<Vec<R>, RegistryError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let mut first_error = None;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..PARALLEL_REQUESTS.min(items.len()) {
            let tx = tx.clone();
            let (next, failed, job) = (&next, &failed, &job);
            scope.spawn(move || loop {
                if failed.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let result = job(item);
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
                Ok(r) => {
                    on_done(&r);
                    results[i] = Some(r);
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
    let done: Option<Vec<R>> = results.into_iter().collect();
    done.ok_or_else(|| RegistryError::Setup("a parallel job did not finish".to_owned()))
}

/// HEAD `blob`; if the repository lacks it, mount it from a mount source or upload it.
pub(super) fn push_blob(
    client: &Client,
    repo: &Repository,
    kind: BlobKind,
    blob: &Descriptor,
    payload: Payload<'_>,
) -> Result<BlobOutcome, RegistryError> {
    let what = match kind {
        BlobKind::Config => "config",
        BlobKind::Layer => "layer",
    };
    let digest = &blob.digest;
    if client.blob_exists(repo, digest, &format!("checking {what} {digest}"))? {
        return Ok(BlobOutcome::new(kind, blob, Resolution::Present));
    }
    for from in client.mount_sources() {
        let step = format!("mounting {what} {digest} from {from}");
        if client.mount_blob(repo, digest, from, &step)? {
            let mut outcome = BlobOutcome::new(kind, blob, Resolution::Mounted);
            outcome.mounted_from = Some(from.to_string());
            return Ok(outcome);
        }
    }
    client.upload_blob(
        repo,
        digest,
        payload,
        blob.size,
        &format!("uploading {what} {digest}"),
    )?;
    Ok(BlobOutcome::new(kind, blob, Resolution::Uploaded))
}

/// `1 layer`, `3 layers`.
pub(super) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
