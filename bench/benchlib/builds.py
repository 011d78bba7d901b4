"""Parts 1 and 2: crane's dependency split, and the release profile, measured with cargo.

crane's buildDepsOnly builds the workspace from a dummy source (mkDummySrc: Cargo.toml, Cargo.lock
and .cargo/config kept, every .rs replaced by one dummy file, everything else dropped), and
buildPackage then builds the real source on top of those artifacts. The same split is done here
with plain cargo in throw-away copies of the workspace, each measurement in its own target dir.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .measure import Timed, dir_size, log, nproc, run

# crane's dummy (lib/mkDummySrc.nix), minus its no_std/uefi attributes which do nothing on Linux:
# one file serves bins, libs and build scripts alike.
DUMMY_RS = "#![allow(clippy::all)]\n#![allow(dead_code)]\npub fn main() {}\n"

# Kept verbatim in the dummy source, as crane keeps them (rust-toolchain.toml so rustup picks the
# same compiler for both halves; in Nix the toolchain is an input instead).
KEPT = ("Cargo.toml", "Cargo.lock", "rust-toolchain.toml", ".cargo/config", ".cargo/config.toml")

# Variables that would make these builds differ from a clean `cargo build`.
SCRUBBED_PREFIXES = ("CARGO_PROFILE_",)
SCRUBBED = (
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_INCREMENTAL",
    "CARGO_BUILD_INCREMENTAL",
    "RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "SHIP_GIT_REV",
)

# cargo's built-in release profile, spelled as overrides of the planned [profile.release].
# strip: since cargo 1.77 a profile with debug = 0 and no explicit strip strips debuginfo (not
# symbols), so "debuginfo" is what a default release build really does.
DEFAULT_RELEASE = {
    "OPT_LEVEL": "3",
    "LTO": "false",
    "CODEGEN_UNITS": "16",
    "STRIP": "debuginfo",
    "PANIC": "unwind",
}

# One planned setting at a time put back to what cargo would use without it (full mode only).
ABLATIONS = {
    "opt-level 3 instead of z": {"OPT_LEVEL": "3"},
    "lto off instead of thin": {"LTO": "false"},
    "16 codegen units instead of 1": {"CODEGEN_UNITS": "16"},
    "strip none instead of symbols": {"STRIP": "none"},
    "panic unwind instead of abort": {"PANIC": "unwind"},
}


def workspace_files(root: Path) -> list[str]:
    """Tracked and untracked-but-not-ignored files: what a flake built from this tree would see."""
    out = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout
    return sorted({p for p in out.decode().split("\0") if p and (root / p).is_file()})


def snapshot(root: Path, dest: Path, worktree: bool, rev: str = "HEAD") -> list[str]:
    """Copies the source once, so other people's edits during a long run cannot mix into it:
    the committed HEAD (git archive) by default, or the work tree's tracked and untracked files.
    Returns the snapshot's files, relative to dest."""
    dest.mkdir(parents=True, exist_ok=True)
    if worktree:
        for rel in workspace_files(root):
            try:
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(root / rel, dest / rel)
            except FileNotFoundError:
                pass  # deleted or renamed since `git ls-files`; the snapshot is what exists now
    else:
        archive = subprocess.run(["git", "-C", str(root), "archive", "--format=tar", rev],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return sorted(
        str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file() and not p.is_symlink()
    )


def copy_real(root: Path, files: list[str], dest: Path) -> None:
    """Copies the real source over dest. shutil.copy gives fresh mtimes, so cargo sees every
    file as newer than any earlier build in the same target dir (crane touches sources likewise)."""
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / rel, target)


def write_dummy(root: Path, files: list[str], dest: Path) -> int:
    """Writes crane's dummy source to dest; returns how many .rs files were replaced."""
    replaced = 0
    for rel in files:
        target = dest / rel
        if rel.endswith(".rs"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(DUMMY_RS, encoding="utf-8")
            replaced += 1
        elif rel in KEPT or rel.endswith("/Cargo.toml"):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(root / rel, target)
    return replaced


_EDITABLE = re.compile(r'((?:println|eprintln|info|warn|debug|format)!\(\s*")')


def edit_one_line(ws: Path, marker: str) -> str:
    """Changes one string literal in the service's source so the binary really changes (a comment
    would be recompiled too, but could leave the release binary identical)."""
    for rel in ("src/main.rs", "src/lib.rs"):
        path = ws / rel
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for i, line in enumerate(lines):
            m = _EDITABLE.search(line)
            if m:
                lines[i] = line[: m.end()] + marker + " " + line[m.end() :]
                path.write_text("".join(lines), encoding="utf-8")
                return f"{rel}:{i + 1}"
    raise RuntimeError(
        "bench: found no println!/info!/format! string literal to edit in src/main.rs or "
        "src/lib.rs; update _EDITABLE in bench/benchlib/builds.py"
    )


def clean_env(target_dir: Path, overrides: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SCRUBBED and not k.startswith(SCRUBBED_PREFIXES)
    }
    env["CARGO_TARGET_DIR"] = str(target_dir)
    # crane exports CARGO_BUILD_INCREMENTAL=false (configureCargoCommonVarsHook.sh).
    env["CARGO_BUILD_INCREMENTAL"] = "false"
    env["CARGO_TERM_COLOR"] = "never"
    for k, v in (overrides or {}).items():
        env[f"CARGO_PROFILE_RELEASE_{k}"] = v
    return env


@dataclass
class Build:
    timed: Timed
    units_compiled: int
    units_fresh: int
    build_scripts_run: int
    binary: Path | None

    def summary(self) -> dict:
        d = self.timed.summary()
        d.pop("cmd")
        d.update(
            units_compiled=self.units_compiled,
            units_fresh=self.units_fresh,
            build_scripts_run=self.build_scripts_run,
        )
        if self.binary is not None:
            d["binary_bytes"] = self.binary.stat().st_size
        return d


def cargo_build(
    ws: Path,
    target_dir: Path,
    *,
    package: str,
    binary: str,
    profile: str,
    nice: int,
    log_to: Path,
    keep_binary_as: Path | None = None,
    overrides: dict[str, str] | None = None,
    cargo_args: list[str] | None = None,
) -> Build:
    """cargo_args replaces the default `build -p PACKAGE` (profile and flags are added)."""
    cmd = ["cargo"] + (cargo_args or ["build", "-p", package])
    cmd += ["--locked", "--offline", "--message-format=json-render-diagnostics"]
    if cargo_args:
        # crane's cargoWithProfile: always an explicit --profile.
        cmd += ["--profile", profile]
    elif profile == "release":
        cmd.append("--release")
    elif profile != "dev":
        cmd += ["--profile", profile]
    timed = run(cmd, cwd=ws, env=clean_env(target_dir, overrides), nice=nice, log_to=log_to)
    compiled = fresh = scripts = 0
    exe = None
    for line in timed.stdout.splitlines():
        if not line.startswith("{"):
            continue
        msg = json.loads(line)
        reason = msg.get("reason")
        if reason == "compiler-artifact":
            if msg.get("fresh"):
                fresh += 1
            else:
                compiled += 1
            target = msg.get("target", {})
            if "bin" in target.get("kind", []) and target.get("name") == binary:
                exe = msg.get("executable")
        elif reason == "build-script-executed":
            scripts += 1
    kept = None
    if exe and keep_binary_as is not None:
        keep_binary_as.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(exe, keep_binary_as)
        kept = keep_binary_as
    elif exe:
        kept = Path(exe)
    return Build(timed, compiled, fresh, scripts, kept)


def crate_count(ws: Path, package: str) -> dict:
    """Packages in the package's normal+build graph for the host, two independent ways."""
    host = next(
        line.split(": ", 1)[1]
        for line in subprocess.run(
            ["rustc", "-vV"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        if line.startswith("host: ")
    )
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--offline",
             "--filter-platform", host],
            cwd=ws, capture_output=True, text=True, check=True,
        ).stdout
    )
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p["id"] for p in meta["packages"] if p["name"] == package)
    seen, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            if any(k["kind"] in (None, "build") for k in dep["dep_kinds"]):
                stack.append(dep["pkg"])
    tree = subprocess.run(
        ["cargo", "tree", "-e", "normal,build", "-p", package, "--prefix", "none",
         "--locked", "--offline", "--target", host],
        cwd=ws, capture_output=True, text=True, check=True,
    ).stdout
    tree_set = {line.replace(" (*)", "").strip() for line in tree.splitlines() if line.strip()}
    return {"metadata_packages": len(seen), "cargo_tree_packages": len(tree_set), "host": host}


# crane's installCargoArtifactsHook.sh (v0.23.4): the flags of its deterministic tar, piped to
# `zstd -T$NIX_BUILD_CORES` (zstd's default level, 3).
CRANE_TAR = ["tar", "--sort=name", "--mtime=@1", "--owner=0", "--group=0", "--mode=u+w",
             "--numeric-owner",
             "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime"]


def compressed_size(target_dir: Path, nice: int, newer_than: Path | None = None) -> dict:
    """The target.tar.zst crane installs (installCargoArtifactsMode = use-zstd): the whole target
    dir, or, for a derivation that inherited artifacts, only the files newer than its marker."""
    tar = " ".join(CRANE_TAR)
    if newer_than is None:
        listing = f"{tar} -c ."
    else:
        listing = f"find . -newer {newer_than} -print0 | {tar} --null --no-recursion -T - -c"
    cmd = f"cd {target_dir} && {listing} | zstd -T{nproc()} -q -c | wc -c"
    t = run(["sh", "-c", cmd], nice=nice)
    return {"zstd_bytes": int(t.stdout.strip()), "wall_s": round(t.wall_s, 2),
            "cpu_s": round(t.cpu_s, 2), "incremental": newer_than is not None}


def dependency_split(
    root: Path,
    files: list[str],
    tmp: Path,
    *,
    profile: str,
    package: str,
    binary: str,
    nice: int,
    cold: bool,
    keep: Path,
    log_to: Path,
) -> dict:
    """Cold full build vs crane's deps-only + app-on-deps + one-line change, for one profile."""
    kw = dict(package=package, binary=binary, profile=profile, nice=nice, log_to=log_to)
    result: dict = {"profile": profile}
    if cold:
        ws_cold = tmp / f"ws-{profile}-cold"
        copy_real(root, files, ws_cold)
        log(f"[{profile}] cold full build")
        b = cargo_build(ws_cold, tmp / f"target-{profile}-cold", keep_binary_as=keep / f"{profile}-cold", **kw)
        result["cold_full"] = b.summary()

    ws = tmp / f"ws-{profile}-split"
    result["dummy_rs_files"] = write_dummy(root, files, ws)
    target = tmp / f"target-{profile}-split"
    log(f"[{profile}] deps-only build (dummy source)")
    result["deps_only"] = cargo_build(ws, target, **kw).summary()
    result["deps_artifacts"] = {"bytes": dir_size(target), **compressed_size(target, nice)}

    copy_real(root, files, ws)
    log(f"[{profile}] real source on top of the deps artifacts")
    app = cargo_build(ws, target, keep_binary_as=keep / f"{profile}-app", **kw)
    result["app_on_deps"] = app.summary()

    result["edited"] = edit_one_line(ws, "bench-edit-1")
    log(f"[{profile}] rebuild after a one-line change in {result['edited']}")
    changed = cargo_build(ws, target, keep_binary_as=keep / f"{profile}-changed", **kw)
    result["source_change"] = changed.summary()
    if changed.binary is not None:
        result["binary_sizes"] = binary_sizes(changed.binary, tmp / f"{profile}-strip-debug")
    result["binary_changed"] = (
        app.binary is not None
        and changed.binary is not None
        and app.binary.read_bytes() != changed.binary.read_bytes()
    )
    if cold:
        c = result["cold_full"]
        s = result["source_change"]
        result["ratio_source_change_to_cold"] = {
            "wall": round(s["wall_s"] / c["wall_s"], 4),
            "cpu": round(s["cpu_s"] / c["cpu_s"], 4) if c["cpu_s"] else None,
        }
    return result


SMOKE_MAIN = r"""use std::collections::BTreeMap;
use std::io::Read;

// Enough real std code (collections, formatting, I/O, panics) that profile settings show.
fn main() {
    let mut input = String::new();
    if std::io::stdin().read_to_string(&mut input).is_err() {
        std::process::exit(1);
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for word in input.split_whitespace() {
        *counts.entry(word).or_default() += 1;
    }
    for (word, n) in &counts {
        println!("{word:>20} {n}");
    }
}
"""


def write_smoke_crate(root: Path, dest: Path) -> None:
    """A dependency-free crate with the workspace's own [profile.release], so quick mode runs the
    profile comparison's code in seconds (its figures say nothing about the demo)."""
    manifest = tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8"))
    prof = manifest.get("profile", {}).get("release", {})
    lines = ['[package]\nname = "bench-smoke"\nversion = "0.1.0"\nedition = "2021"\n',
             "[profile.release]"]
    for k, v in prof.items():
        lines.append(f"{k} = {json.dumps(v)}")
    (dest / "src").mkdir(parents=True, exist_ok=True)
    (dest / "Cargo.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (dest / "src/main.rs").write_text(SMOKE_MAIN, encoding="utf-8")
    if (root / "rust-toolchain.toml").is_file():
        shutil.copy(root / "rust-toolchain.toml", dest / "rust-toolchain.toml")
    # --locked needs a lock file; with no dependencies generating it needs no network.
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=dest, check=True,
                   capture_output=True)


def binary_sizes(binary: Path, scratch: Path) -> dict:
    """Raw and gzip-compressed (what a pushed layer roughly costs) sizes, also with the debug
    info stripped: a dev binary is mostly debug info, and the image could do without it."""
    shutil.copy2(binary, scratch)
    subprocess.run(["strip", "--strip-debug", str(scratch)], check=True)
    raw, stripped = binary.read_bytes(), scratch.read_bytes()
    scratch.unlink()
    return {
        "bytes": len(raw),
        "gzip_bytes": len(gzip.compress(raw, 6)),
        "strip_debug_bytes": len(stripped),
        "strip_debug_gzip_bytes": len(gzip.compress(stripped, 6)),
    }


def strip_copy(binary: Path, dest: Path) -> int:
    shutil.copy2(binary, dest)
    subprocess.run(["strip", "--strip-all", str(dest)], check=True)
    return dest.stat().st_size


def release_profiles(
    ws: Path,
    tmp: Path,
    *,
    package: str,
    binary: str,
    nice: int,
    keep: Path,
    log_to: Path,
    planned: dict | None,
    planned_binary: Path | None,
    ablation: bool,
) -> dict:
    """Planned [profile.release] vs cargo's default release profile, cold builds, one run.

    planned/planned_binary: the planned-profile cold build already made in this run (part 1), if
    any, so it is not built twice."""
    kw = dict(package=package, binary=binary, profile="release", nice=nice, log_to=log_to)
    res: dict = {"subject": package}
    if planned is None or planned_binary is None:
        log(f"[profiles] planned release profile, cold ({package})")
        b = cargo_build(ws, tmp / "target-planned", keep_binary_as=keep / "planned", **kw)
        planned, planned_binary = b.summary(), b.binary
    res["planned"] = planned
    log(f"[profiles] cargo's default release profile, cold ({package})")
    d = cargo_build(ws, tmp / "target-default", keep_binary_as=keep / "default",
                    overrides=DEFAULT_RELEASE, **kw)
    res["default"] = d.summary()
    res["default_overrides"] = {f"CARGO_PROFILE_RELEASE_{k}": v for k, v in DEFAULT_RELEASE.items()}
    if d.binary is None:
        raise RuntimeError(f"cargo build of {package} produced no `{binary}` executable")
    res["default"]["binary_bytes_strip_all"] = strip_copy(d.binary, keep / "default-stripped")
    res["planned"]["binary_bytes_strip_all"] = strip_copy(planned_binary, keep / "planned-stripped")
    p, df = res["planned"], res["default"]
    res["size_ratio_planned_to_default"] = round(p["binary_bytes"] / df["binary_bytes"], 4)
    res["size_ratio_planned_to_default_stripped"] = round(
        p["binary_bytes"] / df["binary_bytes_strip_all"], 4
    )
    res["time_ratio_planned_to_default"] = {
        "wall": round(p["wall_s"] / df["wall_s"], 4),
        "cpu": round(p["cpu_s"] / df["cpu_s"], 4) if df["cpu_s"] else None,
    }
    if ablation:
        res["one_setting_reverted"] = {}
        for i, (name, ov) in enumerate(ABLATIONS.items()):
            log(f"[profiles] planned profile with {name}, cold")
            a = cargo_build(ws, tmp / f"target-ablation-{i}", overrides=ov, **kw)
            s = a.summary()
            s["overrides"] = {f"CARGO_PROFILE_RELEASE_{k}": v for k, v in ov.items()}
            s["size_vs_planned"] = round(s["binary_bytes"] / p["binary_bytes"], 4)
            res["one_setting_reverted"][name] = s
    return res
