//! The temporary directory an image is spooled and compressed into. Removed when dropped
//! (every error path), and listed while it lives so that a SIGINT or SIGTERM handler can
//! remove it too ([`remove_all`]): an interrupted push of a large image leaves nothing behind.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Work directories alive now.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A `ship-image-XXXX` directory under the system's temporary directory ($TMPDIR).
#[derive(Debug)]
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("ship-image-").tempdir()?;
        if let Ok(mut live) = LIVE.lock() {
            live.push(dir.path().to_owned());
        }
        Ok(Self { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|p| p != self.dir.path());
        }
        // TempDir's own drop removes the directory.
    }
}

/// Remove every live work directory, for a process about to exit on a signal. Threads may
/// still be writing into one, so removal is tried a few times.
pub fn remove_all() {
    let dirs = match LIVE.lock() {
        Ok(mut live) => std::mem::take(&mut *live),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    for dir in dirs {
        for _ in 0..3 {
            if std::fs::remove_dir_all(&dir).is_ok() || !dir.exists() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_all_removes_live_directories_and_drop_forgets_them() {
        let kept = Workdir::new().unwrap();
        std::fs::write(kept.path().join("blob"), b"x").unwrap();
        let dropped = Workdir::new().unwrap();
        let dropped_path = dropped.path().to_owned();
        drop(dropped);
        assert!(!dropped_path.exists());
        assert!(!LIVE.lock().unwrap().contains(&dropped_path));
        let path = kept.path().to_owned();
        remove_all();
        assert!(!path.exists());
    }
}
