//! Deterministic docker-archives shaped like `dockerTools.streamLayeredImage` output: one
//! uncompressed `<sha256>/layer.tar` per layer (store paths under /nix/store, fixed mtime and
//! owner), then `<sha256>.json` (config with os, architecture, Entrypoint, rootfs.diff_ids,
//! history), then `manifest.json` last.

use std::path::{Path, PathBuf};

use ship::oci::Digest;

/// One layer: a store path holding one file of `size` pseudo-random (incompressible) bytes
/// derived from `seed`, so two layers with the same seed are byte-identical.
#[derive(Debug, Clone)]
pub struct Layer {
    pub store_path: String,
    pub size: usize,
    pub seed: u64,
}

impl Layer {
    pub fn new(name: &str, size: usize, seed: u64) -> Self {
        Self {
            store_path: format!("/nix/store/{:032x}-{name}", u128::from(seed) * 7919 + 17),
            size,
            seed,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// OCI architecture: `amd64`, `arm64`.
    pub architecture: String,
    pub layers: Vec<Layer>,
    pub entrypoint: String,
}

impl ImageSpec {
    /// A demo-service-like image: a "glibc", a "libgcc" and the "app" layer (`app_seed`
    /// changes only the last one, as a source-only change would).
    pub fn demo(architecture: &str, app_seed: u64) -> Self {
        Self {
            architecture: architecture.to_owned(),
            layers: vec![
                Layer::new("glibc-2.40", 300 * 1024, 1),
                Layer::new("libgcc-14", 120 * 1024, 2),
                Layer::new("demo-service-0.1.0", 200 * 1024, app_seed),
            ],
            entrypoint: "/bin/demo-service".to_owned(),
        }
    }
}

fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

const MTIME: u64 = 1;

fn header(path: &str, size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_path(path).expect("tar path");
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(MTIME);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(kind);
    h.set_cksum();
    h
}

/// The uncompressed tar of one layer, as streamLayeredImage writes it.
pub fn layer_tar(layer: &Layer) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let root = layer.store_path.trim_start_matches('/');
    let mut dirs = vec!["nix".to_owned(), "nix/store".to_owned(), root.to_owned()];
    dirs.push(format!("{root}/bin"));
    for d in dirs {
        let h = header(&format!("{d}/"), 0, 0o555, tar::EntryType::Directory);
        b.append(&h, std::io::empty()).expect("tar dir");
    }
    let data = pseudo_random(layer.seed, layer.size);
    let h = header(
        &format!("{root}/bin/payload"),
        data.len() as u64,
        0o555,
        tar::EntryType::Regular,
    );
    b.append(&h, data.as_slice()).expect("tar file");
    b.into_inner().expect("finish layer tar")
}

/// The image config streamLayeredImage would write for `spec` with these layer digests.
pub fn config_json(spec: &ImageSpec, diff_ids: &[Digest]) -> Vec<u8> {
    let config = serde_json::json!({
        "created": "1970-01-01T00:00:01+00:00",
        "architecture": spec.architecture,
        "os": "linux",
        "config": {
            "Entrypoint": [spec.entrypoint],
            "User": "1000:1000",
            "Labels": {"org.opencontainers.image.source": "https://example.invalid/ship"},
        },
        "rootfs": {
            "diff_ids": diff_ids.iter().map(Digest::as_str).collect::<Vec<_>>(),
            "type": "layers",
        },
        "history": spec.layers.iter().map(|l| serde_json::json!({
            "created": "1970-01-01T00:00:01+00:00",
            "comment": format!("store paths: ['{}']", l.store_path),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_vec_pretty(&config).expect("config json")
}

/// A complete docker-archive for `spec`.
pub fn docker_archive(spec: &ImageSpec) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    let mut diff_ids = Vec::new();
    let mut paths = Vec::new();
    for layer in &spec.layers {
        let tar = layer_tar(layer);
        let digest = Digest::of(&tar);
        let path = format!("{}/layer.tar", digest.hex());
        let h = header(&path, tar.len() as u64, 0o444, tar::EntryType::Regular);
        out.append(&h, tar.as_slice()).expect("append layer");
        diff_ids.push(digest);
        paths.push(path);
    }
    let config = config_json(spec, &diff_ids);
    let config_name = format!("{}.json", Digest::of(&config).hex());
    let h = header(
        &config_name,
        config.len() as u64,
        0o444,
        tar::EntryType::Regular,
    );
    out.append(&h, config.as_slice()).expect("append config");
    let manifest = serde_json::to_vec_pretty(&serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["demo-service:test"],
        "Layers": paths,
    }]))
    .expect("manifest json");
    let h = header(
        "manifest.json",
        manifest.len() as u64,
        0o444,
        tar::EntryType::Regular,
    );
    out.append(&h, manifest.as_slice())
        .expect("append manifest");
    out.into_inner().expect("finish archive")
}

/// Write the archive for `spec` to `dir/name` and return its path.
pub fn write_archive(dir: &Path, name: &str, spec: &ImageSpec) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, docker_archive(spec)).expect("write archive");
    path
}

/// A stand-in for a streamLayeredImage script: an executable that writes the archive to
/// stdout and its progress to stderr, as the real one does.
pub fn write_stream_script(dir: &Path, name: &str, spec: &ImageSpec) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let archive = write_archive(dir, &format!("{name}.payload"), spec);
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# stand-in for dockerTools.streamLayeredImage\necho 'Creating layer 1 from paths: [...]' >&2\nexec cat '{}'\n",
            archive.display()
        ),
    )
    .expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

/// The compressed blob digest ship must produce for a layer: gzip level 6, no mtime, OS 255
/// (computed independently of ship's own code path, with flate2's writer).
pub fn expected_layer_blob(layer: &Layer) -> (Digest, u64) {
    use std::io::Write;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&layer_tar(layer)).expect("gzip");
    let blob = gz.finish().expect("gzip finish");
    (Digest::of(&blob), blob.len() as u64)
}
