//! The edge of `ship init`: cargo's own answers (the workspace root from `cargo
//! locate-project --workspace`, the members from `cargo metadata --no-deps`), the git remote,
//! the files already there; and writing a plan's files.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{workspace, Found, InitError, InitPlan, MANIFEST};
use crate::exec::Process;

fn cargo() -> Process {
    Process::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
        .hint("install Rust's cargo or point $CARGO at it")
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> InitError + 'a {
    move |source| InitError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The workspace root manifest, as cargo finds it: from `manifest` (which must be that root),
/// else upwards from `cwd`.
pub fn workspace_manifest(manifest: Option<&Path>, cwd: &Path) -> Result<PathBuf, InitError> {
    let start = manifest.unwrap_or(cwd);
    let exists = match manifest {
        Some(m) => m.is_file(),
        None => cwd.ancestors().any(|d| d.join(MANIFEST).is_file()),
    };
    if !exists {
        return Err(InitError::NoManifest {
            start: start.to_path_buf(),
        });
    }
    let mut args = vec![
        "locate-project".to_owned(),
        "--workspace".into(),
        "--message-format".into(),
        "plain".into(),
    ];
    if let Some(m) = manifest {
        args.extend(["--manifest-path".to_owned(), path_arg(m)]);
    }
    let out = cargo().args(&args).run()?;
    let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if let Some(m) = manifest {
        let given = m.canonicalize().map_err(io_error("resolve", m))?;
        let found = root.canonicalize().map_err(io_error("resolve", &root))?;
        if given != found {
            return Err(InitError::NotWorkspaceRoot {
                manifest: m.to_path_buf(),
                root: root.clone(),
            });
        }
    }
    Ok(root)
}

/// Everything [`super::plan`] needs about the workspace whose root manifest is `manifest`.
pub fn find(manifest: &Path) -> Result<Found, InitError> {
    let out = cargo()
        .args(&[
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
            &path_arg(manifest),
        ])
        .run()?;
    let members = workspace::members(&out.stdout)?;
    let root = members.root.clone();
    let text = std::fs::read_to_string(manifest).map_err(io_error("read", manifest))?;
    if super::manifest::has_table(&manifest.display().to_string(), &text)? {
        // The table is kept as it is: the checks `ship plan` and the flake make on loading it
        // (the paths `include` names exist, `toolchain` beside a toolchain file) refuse it here
        // too, before anything is written.
        crate::config::load(manifest)?;
    }
    let toolchain_file = crate::config::TOOLCHAIN_FILES
        .into_iter()
        .find(|f| root.join(f).is_file())
        .map(str::to_owned);
    let compile_time = super::compile_time_candidates(&members)
        .into_iter()
        .filter(|p| root.join(p).exists())
        .map(|p| p.display().to_string())
        .collect();
    let lock = root.join("Cargo.lock");
    // No Cargo.lock yet (cargo writes it on the first build): no crate to look up.
    let locked = std::fs::read_to_string(&lock)
        .map(|text| super::native::locked_names(&text))
        .unwrap_or_default();
    let subdir = repository_subdir(&root)?;
    let mut existing = BTreeMap::new();
    for path in super::written(subdir.as_deref()) {
        let full = root.join(&path);
        if full.exists() {
            let text = std::fs::read_to_string(&full).map_err(io_error("read", &full))?;
            existing.insert(path, text);
        }
    }
    // No git, no repository or no origin: the image gets a placeholder owner.
    let github_owner =
        git_line(&root, &["remote", "get-url", "origin"]).and_then(|url| super::github_owner(&url));
    Ok(Found {
        default_branch: default_branch(&root),
        members,
        manifest: text,
        toolchain_file,
        compile_time,
        github_owner,
        locked,
        subdir,
        existing,
    })
}

/// `root` relative to the top of its git repository, when it is below it; outside a
/// repository, the workspace's own directory is taken as the top.
fn repository_subdir(root: &Path) -> Result<Option<String>, InitError> {
    let Some(top) = git_line(root, &["rev-parse", "--show-toplevel"]) else {
        return Ok(None);
    };
    let top = PathBuf::from(top);
    let top = top.canonicalize().map_err(io_error("resolve", &top))?;
    let here = root.canonicalize().map_err(io_error("resolve", root))?;
    let parts: Vec<String> = match here.strip_prefix(&top) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

fn git_line(root: &Path, args: &[&str]) -> Option<String> {
    let mut all = vec!["-C".to_owned(), path_arg(root)];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let out = Process::new("git").args(&all).output().ok()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !line.is_empty()).then_some(line)
}

/// The default branch: the one `origin/HEAD` names, else the branch checked out when it is
/// `main` or `master` (a repository before its first push), else unknown.
fn default_branch(root: &Path) -> Option<String> {
    if let Some(head) = git_line(
        root,
        &[
            "symbolic-ref",
            "--quiet",
            "--short",
            "refs/remotes/origin/HEAD",
        ],
    ) {
        return head.strip_prefix("origin/").map(str::to_owned);
    }
    git_line(root, &["symbolic-ref", "--quiet", "--short", "HEAD"])
        .filter(|b| b == "main" || b == "master")
}

/// Writes every file the plan changes; the plan was decided whole first, so a refusal
/// (an existing file, a bad flag) writes nothing.
pub fn write(plan: &InitPlan) -> Result<(), InitError> {
    for f in plan.files.iter().filter(|f| f.action.writes()) {
        let path = plan.root.join(&f.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_error("create", dir))?;
        }
        std::fs::write(&path, &f.contents).map_err(io_error("write", &path))?;
    }
    Ok(())
}
