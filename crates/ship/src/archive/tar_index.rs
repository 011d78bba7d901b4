//! Random access into a docker-archive tar: an index of its members (symlinks resolved, as
//! docker-archives link repeated layers), and readers over one member's bytes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{ArchiveError, Result};

/// Where a member's bytes are in the archive, or what it links to.
#[derive(Debug, Clone)]
pub(super) enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

/// A byte range of the archive.
#[derive(Debug, Clone, Copy)]
pub(super) struct Section {
    offset: u64,
    size: u64,
}

impl Section {
    pub(super) fn size(&self) -> u64 {
        self.size
    }
}

fn normalize(name: &str) -> String {
    let trimmed = name.trim_start_matches("./").trim_end_matches('/');
    trimmed.to_owned()
}

pub(super) fn index_tar(tar: &File, source: &Path) -> Result<HashMap<String, Member>> {
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

pub(super) fn resolve(
    members: &HashMap<String, Member>,
    name: &str,
    source: &Path,
) -> Result<Section> {
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

pub(super) fn read_entry(
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
pub(super) struct SectionReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl<'a> SectionReader<'a> {
    pub(super) fn new(file: &'a File, section: Section) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
