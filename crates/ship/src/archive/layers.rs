//! Layer blobs: how each layer is stored, its diff_id when the config does not say, and the
//! blob ship pushes: a plain tar gzipped deterministically (see [`super::GZIP_LEVEL`]), a
//! compressed layer copied as it is, on as many threads as there are cores.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use super::source::{decompress_into, SourceKind};
use super::tar_index::{Section, SectionReader};
use super::{ArchiveLayer, LayerEncoding, PreparedLayer, GZIP_LEVEL};
use crate::oci::{Digest, HashingWriter, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_ZSTD};

/// How the layer in `section` is stored, from its first bytes.
pub(super) fn encoding(tar: &File, section: Section) -> io::Result<LayerEncoding> {
    let mut head = [0u8; 512];
    let mut r = SectionReader::new(tar, section);
    let mut n = 0;
    while n < head.len() {
        let m = r.read(&mut head[n..])?;
        if m == 0 {
            break;
        }
        n += m;
    }
    match SourceKind::detect(&head[..n]) {
        Some(SourceKind::Gzip) => Ok(LayerEncoding::Gzip),
        Some(SourceKind::Zstd) => Ok(LayerEncoding::Zstd),
        Some(SourceKind::Tar) => Ok(LayerEncoding::Tar),
        // An empty layer (no bytes, or only the end-of-archive zero blocks) is a tar too.
        None if head[..n].iter().all(|b| *b == 0) => Ok(LayerEncoding::Tar),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a tar, nor a gzip or zstd compressed tar",
        )),
    }
}

/// sha256 of a plain tar layer: one pass, no compression.
pub(super) fn hash(tar: &File, section: Section) -> io::Result<Digest> {
    let mut hasher = HashingWriter::new(io::sink());
    io::copy(&mut SectionReader::new(tar, section), &mut hasher)?;
    Ok(hasher.finish().1)
}

/// Prepare `layers` into `workdir` (blob files named by `indices`), on as many threads as
/// there are cores; in the order given. An error names the index of the layer it is about.
pub(super) fn prepare_layers(
    tar: &File,
    layers: &[&ArchiveLayer],
    workdir: &Path,
    indices: &[usize],
) -> Result<Vec<PreparedLayer>, (usize, io::Error)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(layers.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<io::Result<PreparedLayer>>>> =
        layers.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(layer) = layers.get(j) else {
                    break;
                };
                let dest = workdir.join(format!("layer-{}", indices[j]));
                let result = prepare_layer(tar, layer, &dest);
                if let Ok(mut slot) = results[j].lock() {
                    *slot = Some(result);
                }
            });
        }
    });
    let mut prepared = Vec::with_capacity(layers.len());
    for (j, slot) in results.into_iter().enumerate() {
        let result = slot
            .into_inner()
            .ok()
            .flatten()
            .unwrap_or_else(|| Err(io::Error::other("not processed")));
        prepared.push(result.map_err(|e| (indices[j], e))?);
    }
    Ok(prepared)
}

fn prepare_layer(tar: &File, layer: &ArchiveLayer, dest: &Path) -> io::Result<PreparedLayer> {
    let out = BufWriter::new(File::create(dest)?);
    let mut reader = SectionReader::new(tar, layer.section);
    let (digest, size, diff_id, uncompressed_size, media_type) = match layer.encoding {
        LayerEncoding::Gzip | LayerEncoding::Zstd => {
            let mut writer = HashingWriter::new(out);
            io::copy(&mut reader, &mut writer)?;
            let (mut out, digest, size) = writer.finish();
            out.flush()?;
            let mut hasher = HashingWriter::new(io::sink());
            let blob = BufReader::new(SectionReader::new(tar, layer.section));
            let (kind, media_type) = if layer.encoding == LayerEncoding::Zstd {
                (SourceKind::Zstd, MEDIA_TYPE_LAYER_ZSTD)
            } else {
                (SourceKind::Gzip, MEDIA_TYPE_LAYER_GZIP)
            };
            decompress_into(blob, kind, &mut hasher)?;
            let (_, diff_id, uncompressed) = hasher.finish();
            (digest, size, diff_id, uncompressed, media_type)
        }
        LayerEncoding::Tar => compress_tar(&mut reader, out)?,
    };
    Ok(PreparedLayer {
        digest,
        size,
        diff_id,
        uncompressed_size,
        media_type,
        path: dest.to_owned(),
    })
}

type LayerSums = (Digest, u64, Digest, u64, &'static str);

/// gzip a plain tar layer deterministically, hashing both sides.
fn compress_tar(reader: &mut impl Read, out: BufWriter<File>) -> io::Result<LayerSums> {
    let compressed = HashingWriter::new(out);
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(compressed, flate2::Compression::new(GZIP_LEVEL));
    let mut raw = HashingWriter::new(gz);
    io::copy(reader, &mut raw)?;
    let (gz, diff_id, uncompressed) = raw.finish();
    let compressed = gz.finish()?;
    let (mut out, digest, size) = compressed.finish();
    out.flush()?;
    Ok((digest, size, diff_id, uncompressed, MEDIA_TYPE_LAYER_GZIP))
}
