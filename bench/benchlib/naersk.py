"""Part 1c: naersk's dependency split beside crane's, both imitated with their own cargo commands
on the same workspace, one builder right after the other.

Sources (nix-community/naersk 3ddafa67a4c7d06483995c85c66a2d285b738833, the flake.lock pin):
- lib.nix:146-235 `dummySrc`: every Cargo.toml of the source (config.nix:356-374 finds them all,
  members or not) re-serialised without `bin`, `example`, `lib`, `test`, `bench`, `default-run`
  and without `package.default-run`, `package.metabuild`, `package.build` (lib.nix:156-177);
  beside each one a stub `build.rs` (so cargo builds the `[build-dependencies]`) and a stub
  `src/lib.rs` with `#![no_std]` (lib.nix:211-217); `.cargo/config(.toml)` and a re-serialised
  Cargo.lock; nothing else of the source.
- default.nix:46-63: the deps derivation builds that dummy with `copyTarget = true`;
  default.nix:66-76: the top-level one builds the real source on it (`builtDependencies`).
- config.nix:47-49, 60-61: both run ONE command, `cargo $cargo_options build
  $cargo_build_options`, the options defaulting to `$cargo_release -j $NIX_BUILD_CORES
  --message-format=$cargo_message_format`; build.nix:145 `cargo_release` is `--release` or
  nothing; build.nix:173-178 the format is json-diagnostic-rendered-ansi. nix/builders/naersk.nix
  appends `--locked --workspace` (and `--profile P` for custom profiles) to both, and
  `--bin NAME` to the top-level one only (its overrideMain).
- build.nix:218-241 (configurePhase of the top-level build): every source file touched, then the
  deps' `target.tar.zst` unpacked into ./target; build.nix:341-352 (installPhase of the deps
  derivation, compressTarget defaulting to true, config.nix:185): `tar --sort=name --mtime=@1
  --owner=0 --group=0 --numeric-owner --pax-option=... -c target | zstd -o target.tar.zst`, the
  whole target dir with zstd's defaults.
- naersk sets no CARGO_BUILD_INCREMENTAL (crane sets it false), so cargo's profile default holds.

Imitated as: the dummy written into a work dir, its build in ./target there, that target archived
with naersk's tar and zstd commands; the work dir then replaced by the real source at the same
path (as Nix builds both derivations in the same build directory: cargo's fingerprints of
workspace members include their path), the archive unpacked into it and the top-level command
run. Not imitated: the vendored sources (`--offline` on the fetched registry stands for them),
CARGO_BUILD_RUSTFLAGS's `--remap-path-prefix` of those sources (the same in both derivations),
and the re-serialised Cargo.lock (copied; with --locked cargo compares lock files by their
resolve, not their text).
"""

from __future__ import annotations

import json
import re
import shutil
import time
import tomllib
from pathlib import Path

from .builds import clean_env, copy_real
from .crane import EXTRA, count_units, layouts, run_layout
from .measure import dir_size, log, nproc, run

# lib.nix:161, 163-172, 176: what fixupCargoToml removes.
REMOVED_TOP = ("bin", "example", "lib", "test", "bench", "default-run")
REMOVED_PACKAGE = ("default-run", "metabuild", "build")
# lib.nix:211-217, byte for byte (`echo` adds the newlines).
STUB_BUILD_RS = "//! stub crate\n/// stub main function\nfn main() {}\n"
STUB_LIB_RS = "//! stub lib\n#![no_std]\n"
# build.nix:348-352.
NAERSK_TAR = ["tar", "--sort=name", "--mtime=@1", "--owner=0", "--group=0", "--numeric-owner",
              "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime"]


def fixup_manifest(manifest: dict) -> dict:
    """lib.nix:156-177 fixupCargoToml: the manifest as a library with no targets of its own."""
    out = {k: v for k, v in manifest.items() if k not in REMOVED_TOP}
    if "package" in out:
        out["package"] = {k: v for k, v in out["package"].items() if k not in REMOVED_PACKAGE}
    return out


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(k: str) -> str:
    return k if _BARE_KEY.fullmatch(k) else json.dumps(k)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in sorted(v.items())) + " }"
    raise TypeError(f"bench: cannot write {type(v).__name__} {v!r} as TOML")


def to_toml(table: dict, path: tuple[str, ...] = ()) -> str:
    """A manifest written back as TOML, keys sorted as Nix's attribute sets sort them
    (builtinz.writeTOML); the values and tables are those of the parsed file."""
    plain, tables, arrays = [], [], []
    for k, v in sorted(table.items()):
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((k, v))
        else:
            plain.append(f"{_key(k)} = {_value(v)}\n")
    out = "".join(plain)
    for k, v in tables:
        sub = path + (k,)
        out += f"\n[{'.'.join(map(_key, sub))}]\n" + to_toml(v, sub)
    for k, items in arrays:
        sub = path + (k,)
        for item in items:
            out += f"\n[[{'.'.join(map(_key, sub))}]]\n" + to_toml(item, sub)
    return out


def write_dummy(src: Path, files: list[str], dest: Path) -> int:
    """naersk's dummySrc (lib.nix:146-235) in dest; returns how many manifests it rewrote."""
    manifests = [rel for rel in files if rel == "Cargo.toml" or rel.endswith("/Cargo.toml")]
    root = tomllib.loads((src / "Cargo.toml").read_text(encoding="utf-8"))
    if "patch" in root:
        # lib.nix:225-233 copies [patch] path sources into the dummy; not imitated.
        raise ValueError("bench: the naersk imitation does not copy [patch] sources")
    for rel in manifests:
        d = dest / Path(rel).parent
        (d / "src").mkdir(parents=True, exist_ok=True)
        fixed = fixup_manifest(tomllib.loads((src / rel).read_text(encoding="utf-8")))
        text = to_toml(fixed)
        if tomllib.loads(text) != fixed:
            raise ValueError(f"bench: {rel} does not read back the same once rewritten by "
                             "bench/benchlib/naersk.py to_toml")
        (d / "Cargo.toml").write_text(text, encoding="utf-8")
        (d / "build.rs").write_text(STUB_BUILD_RS, encoding="utf-8")
        (d / "src/lib.rs").write_text(STUB_LIB_RS, encoding="utf-8")
    shutil.copy(src / "Cargo.lock", dest / "Cargo.lock")
    # default.nix:32-37 takes .cargo/config.toml, else .cargo/config; lib.nix:189 copies it.
    for cfg in (".cargo/config.toml", ".cargo/config"):
        if (src / cfg).is_file():
            (dest / ".cargo").mkdir(exist_ok=True)
            shutil.copy(src / cfg, dest / ".cargo/config")
            break
    # rustup picks the compiler from this file; in Nix the toolchain is an input instead.
    if (src / "rust-toolchain.toml").is_file():
        shutil.copy(src / "rust-toolchain.toml", dest / "rust-toolchain.toml")
    return len(manifests)


def cargo_argv(profile: str, binary: str | None) -> list[str]:
    """config.nix:49, 61 with nix/builders/naersk.nix's options; `--bin` on the top-level build
    only; `--offline` in place of the vendored sources."""
    release = ["--release"] if profile == "release" else []
    custom = [] if profile in ("dev", "release") else ["--profile", profile]
    bins = ["--bin", binary] if binary else []
    return ["cargo", "build", *release, "-j", str(nproc()),
            "--message-format=json-diagnostic-rendered-ansi", *EXTRA.split(), *custom, *bins,
            "--offline"]


def _env(target: Path) -> dict[str, str]:
    env = clean_env(target)
    env.pop("CARGO_BUILD_INCREMENTAL")  # naersk leaves it to the profile
    return env


def _step(argv: list[str], ws: Path, nice: int, log_to: Path) -> dict:
    t = run(argv, cwd=ws, env=_env(ws / "target"), nice=nice, log_to=log_to)
    units, deps = count_units(t.stderr)
    return {"command": " ".join(argv), "wall_s": round(t.wall_s, 3), "cpu_s": round(t.cpu_s, 3),
            "units_compiled": units, "deps_compiled": deps, "load_before": t.load_before}


def naersk_split(src: Path, files: list[str], tmp: Path, *, profile: str, binary: str, nice: int,
                 log_to: Path) -> dict:
    """naersk's deps derivation, its archive, and its top-level build on the unpacked archive."""
    ws = tmp / f"ws-naersk-{profile}"
    archive = tmp / f"naersk-{profile}-target.tar.zst"
    res: dict = {"manifests_rewritten": write_dummy(src, files, ws)}
    argv = cargo_argv(profile, None)
    log(f"[naersk {profile}] deps: {' '.join(argv)}")
    res["deps"] = _step(argv, ws, nice, log_to)
    res["target_bytes"] = dir_size(ws / "target")

    tar = " ".join(NAERSK_TAR)
    t = run(["sh", "-c", f"cd {ws} && {tar} -c target | zstd -q -o {archive}"], nice=nice)
    res["archive"] = {"zstd_bytes": archive.stat().st_size, "wall_s": round(t.wall_s, 2),
                      "cpu_s": round(t.cpu_s, 2)}

    # The top-level build's directory: the real source only (no stub is left over), and the
    # archive unpacked into it. In Nix every unpacked file has mtime 1 (the tar's --mtime=@1),
    # the sources were touched just before (build.nix:222), and the registry's files are mtime 1
    # in the store: the target's files all equal, newer than no registry file, older than every
    # workspace source. Here the registry's files are newer than 1, so the unpacked files all
    # get one time after them instead; `tar --touch` would not do, its times follow the
    # archive's name order, and cargo then takes a unit's dependency for newer than the unit.
    shutil.rmtree(ws)
    ws.mkdir()
    unpacked = int(time.time()) - 1
    t = run(["sh", "-c", f"cd {ws} && zstd -q -d {archive} --stdout | tar -x && "
                         f"find target -exec touch -h -d @{unpacked} {{}} +"], nice=nice)
    res["unpack"] = {"wall_s": round(t.wall_s, 2), "cpu_s": round(t.cpu_s, 2)}
    archive.unlink()
    copy_real(src, files, ws)
    argv = cargo_argv(profile, binary)
    log(f"[naersk {profile}] app: {' '.join(argv)}")
    res["app"] = _step(argv, ws, nice, log_to)
    shutil.rmtree(ws, ignore_errors=True)
    return res


def builders_split(src: Path, files: list[str], tmp: Path, *, profile: str, binary: str,
                   nice: int, log_to: Path, subject: str) -> dict:
    """crane's image split (the flake's deps-PROFILE and app-PROFILE, part 1b's `after` layout)
    and naersk's, one right after the other."""
    after = layouts(profile, binary)["after"]
    pair = {n: after[n] for n in (f"deps-{profile}", f"app-{profile}")}
    crane = run_layout(src, files, tmp, profile=profile, layout="split", drvs=pair, nice=nice,
                       log_to=log_to)
    return {"profile": profile, "subject": subject,
            "crane": {"deps": crane[f"deps-{profile}"], "app": crane[f"app-{profile}"]},
            "naersk": naersk_split(src, files, tmp, profile=profile, binary=binary, nice=nice,
                                   log_to=log_to)}


def smoke_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

