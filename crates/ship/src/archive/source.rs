//! Getting an uncompressed docker-archive tar out of IMAGE: recognise it by its first bytes,
//! run a streamLayeredImage script into a spool file, or decompress gzip, zstd or xz.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::{ArchiveError, Result};
use crate::exec::{ExecError, Process};

/// What the first bytes of IMAGE say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Tar,
    Gzip,
    Zstd,
    Xz,
    Script,
}

impl SourceKind {
    /// Recognise a source from (at least) its first 262 bytes.
    pub fn detect(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Self::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Self::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Self::Xz)
        } else if head.starts_with(b"#!") {
            Some(Self::Script)
        } else if head.get(257..262) == Some(b"ustar") {
            Some(Self::Tar)
        } else {
            None
        }
    }
}

/// An uncompressed tar of IMAGE: IMAGE itself, or a spooled copy in `workdir`.
pub(super) fn materialize(source: &Path, workdir: &Path) -> Result<PathBuf> {
    let kind = detect_file(source)?;
    let spool = workdir.join("image.tar");
    match kind {
        SourceKind::Tar => return Ok(source.to_owned()),
        SourceKind::Script => run_script(source, &spool)?,
        SourceKind::Gzip | SourceKind::Zstd | SourceKind::Xz => {
            decompress_file(source, kind, &spool)?
        }
    }
    match detect_file(&spool) {
        Ok(SourceKind::Tar) => Ok(spool),
        _ if kind == SourceKind::Script => Err(ArchiveError::invalid(
            source,
            "the script's output is not an uncompressed docker-archive (tar)",
        )),
        _ => Err(ArchiveError::invalid(
            source,
            "the decompressed content is not a docker-archive (tar)",
        )),
    }
}

fn detect_file(path: &Path) -> Result<SourceKind> {
    let file = File::open(path).map_err(ArchiveError::io(path, "opening image"))?;
    let mut head = Vec::with_capacity(512);
    file.take(512)
        .read_to_end(&mut head)
        .map_err(ArchiveError::io(path, "reading"))?;
    SourceKind::detect(&head).ok_or_else(|| {
        ArchiveError::invalid(
            path,
            format!(
                "not a docker-archive (tar, or tar compressed with gzip, zstd or xz) nor a streamLayeredImage script ({} bytes; first bytes {:02x?})",
                head.len(),
                &head[..head.len().min(8)]
            ),
        )
    })
}

fn run_script(script: &Path, spool: &Path) -> Result<()> {
    let out = File::create(spool).map_err(ArchiveError::io(spool, "creating spool file"))?;
    // A bare relative name would be looked up on PATH; the user means the file.
    let program = if script.is_relative() && script.components().count() == 1 {
        Path::new(".").join(script)
    } else {
        script.to_owned()
    };
    match Process::new(program).stdout_to(out).run() {
        Ok(_) => Ok(()),
        Err(ExecError::Spawn { source, .. }) => Err(ArchiveError::io(
            script,
            "running the image script (is it executable?)",
        )(source)),
        Err(ExecError::Failed {
            status,
            stderr_tail,
            ..
        }) => Err(ArchiveError::invalid(
            script,
            format!("the image script failed ({status}); last lines of its stderr:\n{stderr_tail}"),
        )),
    }
}

fn decompress_file(source: &Path, kind: SourceKind, dest: &Path) -> Result<()> {
    let input = BufReader::new(File::open(source).map_err(ArchiveError::io(source, "opening"))?);
    let out = File::create(dest).map_err(ArchiveError::io(dest, "creating spool file"))?;
    let mut out = BufWriter::new(out);
    let what = match kind {
        SourceKind::Gzip => "gzip",
        SourceKind::Zstd => "zstd",
        SourceKind::Xz => "xz",
        SourceKind::Tar | SourceKind::Script => "tar",
    };
    let context = format!("decompressing {what}");
    decompress_into(input, kind, &mut out).map_err(ArchiveError::io(source, context.clone()))?;
    out.flush().map_err(ArchiveError::io(dest, "writing"))?;
    Ok(())
}

pub(super) fn decompress_into<R: io::BufRead, W: Write>(
    mut input: R,
    kind: SourceKind,
    out: &mut W,
) -> io::Result<u64> {
    match kind {
        SourceKind::Gzip => io::copy(&mut flate2::bufread::MultiGzDecoder::new(input), out),
        SourceKind::Zstd => {
            let mut decoder = ruzstd::decoding::StreamingDecoder::new(input)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            io::copy(&mut decoder, out)
        }
        SourceKind::Xz => {
            let mut counter = CountingWriter { inner: out, n: 0 };
            lzma_rs::xz_decompress(&mut input, &mut counter)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            Ok(counter.n)
        }
        SourceKind::Tar | SourceKind::Script => io::copy(&mut input, out),
    }
}

struct CountingWriter<'a, W> {
    inner: &'a mut W,
    n: u64,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_sources_by_magic() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(SourceKind::detect(&tar), Some(SourceKind::Tar));
        assert_eq!(SourceKind::detect(&[0x1f, 0x8b, 8]), Some(SourceKind::Gzip));
        assert_eq!(
            SourceKind::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(SourceKind::Zstd)
        );
        assert_eq!(
            SourceKind::detect(&[0xfd, b'7', b'z', b'X', b'Z', 0, 0]),
            Some(SourceKind::Xz)
        );
        assert_eq!(
            SourceKind::detect(b"#!/nix/store/x-python3/bin/python3\n"),
            Some(SourceKind::Script)
        );
        assert_eq!(SourceKind::detect(b"{\"not\": \"an image\"}"), None);
        assert_eq!(SourceKind::detect(&[]), None);
    }
}
