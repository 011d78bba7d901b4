//! Layer blobs: each layer of the tar hashed (its diff_id) and, when it is a plain tar,
//! gzipped deterministically (see [`super::GZIP_LEVEL`]), on as many threads as there are cores.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use super::source::{decompress_into, SourceKind};
use super::tar_index::{Section, SectionReader};
use super::{ArchiveError, PreparedLayer, Result, GZIP_LEVEL};
use crate::oci::{Digest, HashingWriter, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_ZSTD};

/// Compress (or copy) every layer into `workdir`, on as many threads as there are cores.
pub(super) fn compress_layers(
    tar: &File,
    sections: &[Section],
    names: &[String],
    workdir: &Path,
    source: &Path,
) -> Result<Vec<PreparedLayer>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(sections.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<PreparedLayer>>>> = sections
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(section) = sections.get(i) else {
                    break;
                };
                let dest = workdir.join(format!("layer-{i}"));
                let result = prepare_layer(tar, *section, &dest).map_err(|e| {
                    ArchiveError::invalid(source, format!("layer {} ({}): {e}", i + 1, names[i]))
                });
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(result);
                }
            });
        }
    });
    let mut layers = Vec::with_capacity(sections.len());
    for (i, slot) in results.into_iter().enumerate() {
        let result = slot.into_inner().ok().flatten().unwrap_or_else(|| {
            Err(ArchiveError::invalid(
                source,
                format!("layer {}: not processed", i + 1),
            ))
        });
        layers.push(result?);
    }
    Ok(layers)
}

fn prepare_layer(tar: &File, section: Section, dest: &Path) -> io::Result<PreparedLayer> {
    let mut head = [0u8; 512];
    let head_len = {
        let mut r = SectionReader::new(tar, section);
        let mut n = 0;
        while n < head.len() {
            let m = r.read(&mut head[n..])?;
            if m == 0 {
                break;
            }
            n += m;
        }
        n
    };
    let kind = SourceKind::detect(&head[..head_len]);
    let out = BufWriter::new(File::create(dest)?);
    let mut reader = SectionReader::new(tar, section);
    let (digest, size, diff_id, uncompressed_size, media_type) = match kind {
        Some(SourceKind::Gzip) | Some(SourceKind::Zstd) => {
            let mut writer = HashingWriter::new(out);
            io::copy(&mut reader, &mut writer)?;
            let (mut out, digest, size) = writer.finish();
            out.flush()?;
            let mut hasher = HashingWriter::new(io::sink());
            let blob = BufReader::new(SectionReader::new(tar, section));
            let kind = kind.unwrap_or(SourceKind::Gzip);
            decompress_into(blob, kind, &mut hasher)?;
            let (_, diff_id, uncompressed) = hasher.finish();
            let media_type = if kind == SourceKind::Zstd {
                MEDIA_TYPE_LAYER_ZSTD
            } else {
                MEDIA_TYPE_LAYER_GZIP
            };
            (digest, size, diff_id, uncompressed, media_type)
        }
        // An empty layer (no bytes, or only the end-of-archive zero blocks) is a tar too.
        Some(SourceKind::Tar) => compress_tar(&mut reader, out)?,
        None if is_zero(&head[..head_len]) => compress_tar(&mut reader, out)?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a tar, nor a gzip or zstd compressed tar",
            ))
        }
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
    {
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
}

fn is_zero(block: &[u8]) -> bool {
    block.iter().all(|b| *b == 0)
}
