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

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exec::{ExecError, Process};
use crate::oci::{
    ConfigPlatform, Descriptor, Digest, HashingWriter, ImageManifest, PlatformSpec,
    MEDIA_TYPE_IMAGE_CONFIG, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_ZSTD,
};
use crate::platform::Platform;

/// gzip level for layers ship compresses. Changing it changes every layer digest (and so
/// re-uploads everything once); it is part of the push format.
pub const GZIP_LEVEL: u32 = 6;

/// Top-level keys of an image config that the OCI image spec defines; Docker-only keys
/// (`container`, `container_config`, `docker_version`, ...) are dropped.
const OCI_CONFIG_KEYS: &[&str] = &[
    "created",
    "author",
    "architecture",
    "os",
    "os.version",
    "os.features",
    "variant",
    "config",
    "rootfs",
    "history",
];

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
    _workdir: tempfile::TempDir,
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
    let workdir = tempfile::Builder::new()
        .prefix("ship-image-")
        .tempdir()
        .map_err(ArchiveError::io(source, "creating a temporary directory"))?;
    let tar_path = materialize(source, workdir.path())?;
    let tar = File::open(&tar_path).map_err(ArchiveError::io(source, "opening"))?;
    let entries = index_tar(&tar, source)?;

    let manifest_bytes = read_entry(&tar, &entries, "manifest.json", source)?;
    let docker_manifest = parse_docker_manifest(&manifest_bytes)
        .map_err(|m| ArchiveError::invalid(source, format!("manifest.json: {m}")))?;
    let config_bytes = read_entry(&tar, &entries, &docker_manifest.config, source)?;
    let raw_config: serde_json::Value = serde_json::from_slice(&config_bytes).map_err(|e| {
        ArchiveError::invalid(
            source,
            format!("image config {}: not JSON: {e}", docker_manifest.config),
        )
    })?;
    let platform_fields: ConfigPlatform =
        serde_json::from_value(raw_config.clone()).map_err(|e| {
            ArchiveError::invalid(
                source,
                format!("image config {}: {e}", docker_manifest.config),
            )
        })?;
    let platform = Platform::from_os_arch(&platform_fields.os, &platform_fields.architecture)
        .ok_or_else(|| {
            ArchiveError::invalid(
                source,
                format!(
                    "image config says os {:?}, architecture {:?}; ship pushes {}",
                    platform_fields.os,
                    platform_fields.architecture,
                    crate::platform::PLATFORMS.join(", ")
                ),
            )
        })?;
    let expected_diff_ids = config_diff_ids(&raw_config)
        .map_err(|m| ArchiveError::invalid(source, format!("image config: {m}")))?;
    if let Some(ids) = &expected_diff_ids {
        if ids.len() != docker_manifest.layers.len() {
            return Err(ArchiveError::invalid(
                source,
                format!(
                    "manifest.json lists {} layers but the image config has {} diff_ids: the archive is corrupt",
                    docker_manifest.layers.len(),
                    ids.len()
                ),
            ));
        }
    }

    let mut sections = Vec::with_capacity(docker_manifest.layers.len());
    for name in &docker_manifest.layers {
        sections.push(resolve(&entries, name, source)?);
    }
    let layers = compress_layers(
        &tar,
        &sections,
        &docker_manifest.layers,
        workdir.path(),
        source,
    )?;
    for (i, layer) in layers.iter().enumerate() {
        if let Some(expected) = expected_diff_ids.as_ref().and_then(|ids| ids.get(i)) {
            if *expected != layer.diff_id {
                return Err(ArchiveError::invalid(
                    source,
                    format!(
                        "layer {} ({}) has sha256 {} but the image config says {}: the archive is corrupt",
                        i + 1,
                        docker_manifest.layers[i],
                        layer.diff_id,
                        expected
                    ),
                ));
            }
        }
    }
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    let config = oci_config(&raw_config, &diff_ids);
    Ok(PreparedImage {
        source: source.to_owned(),
        config_digest: Digest::of(&config),
        config,
        platform,
        platform_spec: platform_fields.spec(),
        layers,
        _workdir: workdir,
    })
}

/// An uncompressed tar of IMAGE: IMAGE itself, or a spooled copy in `workdir`.
fn materialize(source: &Path, workdir: &Path) -> Result<PathBuf> {
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

fn decompress_into<R: io::BufRead, W: Write>(
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

/// Where a member's bytes are in the archive, or what it links to.
#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

/// A byte range of the archive.
#[derive(Debug, Clone, Copy)]
struct Section {
    offset: u64,
    size: u64,
}

fn normalize(name: &str) -> String {
    let trimmed = name.trim_start_matches("./").trim_end_matches('/');
    trimmed.to_owned()
}

fn index_tar(tar: &File, source: &Path) -> Result<HashMap<String, Member>> {
    let mut archive = tar::Archive::new(tar);
    let mut members = HashMap::new();
    let corrupt = |e: io::Error| {
        ArchiveError::invalid(
            source,
            format!("not a readable docker-archive (corrupt or truncated tar): {e}"),
        )
    };
    let entries = archive.entries_with_seek().map_err(corrupt)?;
    for entry in entries {
        let entry = entry.map_err(corrupt)?;
        let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
        let kind = entry.header().entry_type();
        let member = if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            let target = if kind.is_symlink() {
                join_relative(&name, &target)
            } else {
                normalize(&target)
            };
            Member::Link(target)
        } else if kind.is_file() {
            Member::File {
                offset: entry.raw_file_position(),
                size: entry.size(),
            }
        } else {
            continue;
        };
        members.insert(name, member);
    }
    let len = tar
        .metadata()
        .map_err(ArchiveError::io(source, "reading"))?
        .len();
    // The tar reader skips data with seeks, so a file cut short in the middle of its last
    // member is noticed here rather than when that member is read.
    for member in members.values() {
        if let Member::File { offset, size } = member {
            if offset + size > len {
                return Err(ArchiveError::invalid(
                    source,
                    "truncated docker-archive: a member extends past the end of the file",
                ));
            }
        }
    }
    Ok(members)
}

/// `target` of a symlink at `name`, as a path from the archive root.
fn join_relative(name: &str, target: &str) -> String {
    if let Some(abs) = target.strip_prefix('/') {
        return normalize(abs);
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn resolve(members: &HashMap<String, Member>, name: &str, source: &Path) -> Result<Section> {
    let mut current = normalize(name);
    // Bounded: a link cycle is reported, not followed forever.
    for _ in 0..16 {
        match members.get(&current) {
            Some(Member::File { offset, size }) => {
                return Ok(Section {
                    offset: *offset,
                    size: *size,
                })
            }
            Some(Member::Link(target)) => current = target.clone(),
            None => {
                return Err(ArchiveError::invalid(
                    source,
                    format!(
                        "the docker-archive has no member {current:?} (named in manifest.json)"
                    ),
                ))
            }
        }
    }
    Err(ArchiveError::invalid(
        source,
        format!("member {name:?}: too many links"),
    ))
}

fn read_entry(
    tar: &File,
    members: &HashMap<String, Member>,
    name: &str,
    source: &Path,
) -> Result<Vec<u8>> {
    if !members.contains_key(&normalize(name)) && name == "manifest.json" {
        return Err(ArchiveError::invalid(
            source,
            "no manifest.json: not a docker-archive (an OCI layout or a plain tar?)",
        ));
    }
    let section = resolve(members, name, source)?;
    const MAX: u64 = 16 << 20;
    if section.size > MAX {
        return Err(ArchiveError::invalid(
            source,
            format!(
                "{name} is {} bytes, more than a JSON file here may be",
                section.size
            ),
        ));
    }
    let mut buf = Vec::with_capacity(section.size as usize);
    SectionReader::new(tar, section)
        .read_to_end(&mut buf)
        .map_err(ArchiveError::io(source, format!("reading {name}")))?;
    Ok(buf)
}

/// Reads one section of the archive with positional reads, so several threads can read
/// different layers of one file at once.
struct SectionReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl<'a> SectionReader<'a> {
    fn new(file: &'a File, section: Section) -> Self {
        Self {
            file,
            pos: section.offset,
            end: section.offset + section.size,
        }
    }
}

impl Read for SectionReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends in the middle of a layer",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// The parts of a docker-archive `manifest.json` ship uses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DockerManifest {
    config: String,
    layers: Vec<String>,
}

fn parse_docker_manifest(bytes: &[u8]) -> Result<DockerManifest, String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(rename = "Config")]
        config: String,
        #[serde(rename = "Layers")]
        layers: Vec<String>,
    }
    let entries: Vec<Entry> =
        serde_json::from_slice(bytes).map_err(|e| format!("not a docker-archive manifest: {e}"))?;
    match entries.len() {
        1 => {
            let mut entries = entries;
            let e = entries.remove(0);
            Ok(DockerManifest {
                config: e.config,
                layers: e.layers,
            })
        }
        n => Err(format!(
            "holds {n} images; ship pushes exactly one image per archive"
        )),
    }
}

/// `rootfs.diff_ids` of a config, if it has them.
fn config_diff_ids(config: &serde_json::Value) -> Result<Option<Vec<Digest>>, String> {
    let Some(rootfs) = config.get("rootfs") else {
        return Ok(None);
    };
    let Some(ids) = rootfs.get("diff_ids") else {
        return Ok(None);
    };
    let ids = ids
        .as_array()
        .ok_or("rootfs.diff_ids is not a list")?
        .iter()
        .map(|v| {
            v.as_str()
                .ok_or_else(|| "rootfs.diff_ids has a non-string entry".to_owned())
                .and_then(|s| Digest::parse(s).map_err(|e| format!("rootfs.diff_ids: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(ids))
}

/// The OCI image config: the OCI keys of `raw`, `rootfs` set from the layers ship read, with
/// object keys sorted so the bytes (and the digest) depend only on the content.
pub fn oci_config(raw: &serde_json::Value, diff_ids: &[Digest]) -> Vec<u8> {
    let mut out = BTreeMap::new();
    if let Some(obj) = raw.as_object() {
        for (k, v) in obj {
            if OCI_CONFIG_KEYS.contains(&k.as_str()) && k != "rootfs" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out.insert(
        "rootfs".to_owned(),
        serde_json::json!({
            "type": "layers",
            "diff_ids": diff_ids.iter().map(Digest::as_str).collect::<Vec<_>>(),
        }),
    );
    let value = serde_json::Value::Object(out.into_iter().collect());
    serde_json::to_vec(&Sorted(&value)).unwrap_or_default()
}

/// Serializes a JSON value with every object's keys in sorted order, whatever map type
/// serde_json was built with.
struct Sorted<'a>(&'a serde_json::Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut m = s.serialize_map(Some(keys.len()))?;
                for k in keys {
                    m.serialize_entry(k, &Sorted(&map[k]))?;
                }
                m.end()
            }
            serde_json::Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Sorted(item))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

/// Compress (or copy) every layer into `workdir`, on as many threads as there are cores.
fn compress_layers(
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

    #[test]
    fn docker_manifest_needs_exactly_one_image() {
        let one =
            br#"[{"Config":"abc.json","RepoTags":["x:y"],"Layers":["a/layer.tar","b/layer.tar"]}]"#;
        assert_eq!(
            parse_docker_manifest(one).unwrap(),
            DockerManifest {
                config: "abc.json".into(),
                layers: vec!["a/layer.tar".into(), "b/layer.tar".into()]
            }
        );
        let two = br#"[{"Config":"a","Layers":[]},{"Config":"b","Layers":[]}]"#;
        assert!(parse_docker_manifest(two)
            .unwrap_err()
            .contains("holds 2 images"));
        assert!(parse_docker_manifest(b"{}")
            .unwrap_err()
            .contains("not a docker-archive manifest"));
    }

    #[test]
    fn symlink_targets_resolve_from_the_link_directory() {
        assert_eq!(
            join_relative("b/layer.tar", "../a/layer.tar"),
            "a/layer.tar"
        );
        assert_eq!(join_relative("b/layer.tar", "/a/layer.tar"), "a/layer.tar");
        assert_eq!(join_relative("layer.tar", "./x.tar"), "x.tar");
        assert_eq!(normalize("./a/b/"), "a/b");
    }

    #[test]
    fn oci_config_keeps_oci_keys_sorted_and_sets_rootfs() {
        let raw = serde_json::json!({
            "os": "linux",
            "architecture": "arm64",
            "docker_version": "24",
            "container_config": {"Cmd": ["x"]},
            "config": {"Env": ["B=2", "A=1"], "Entrypoint": ["/bin/app"]},
            "created": "1970-01-01T00:00:01+00:00",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:00"]},
        });
        let ids = [Digest::of(b"layer")];
        let bytes = oci_config(&raw, &ids);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"architecture":"arm64","config":{{"Entrypoint":["/bin/app"],"Env":["B=2","A=1"]}},"created":"1970-01-01T00:00:01+00:00","os":"linux","rootfs":{{"diff_ids":["{}"],"type":"layers"}}}}"#,
                ids[0]
            )
        );
        // Key order in the input does not matter.
        let reordered: serde_json::Value = serde_json::from_str(
            r#"{"rootfs":{},"created":"1970-01-01T00:00:01+00:00","config":{"Entrypoint":["/bin/app"],"Env":["B=2","A=1"]},"architecture":"arm64","os":"linux"}"#,
        )
        .unwrap();
        assert_eq!(oci_config(&reordered, &ids), bytes);
    }

    #[test]
    fn diff_ids_are_validated() {
        let ok = serde_json::json!({"rootfs": {"diff_ids": [Digest::of(b"a").as_str()]}});
        assert_eq!(config_diff_ids(&ok).unwrap(), Some(vec![Digest::of(b"a")]));
        assert_eq!(config_diff_ids(&serde_json::json!({})).unwrap(), None);
        let bad = serde_json::json!({"rootfs": {"diff_ids": ["md5:x"]}});
        assert!(config_diff_ids(&bad)
            .unwrap_err()
            .contains("rootfs.diff_ids"));
    }
}
