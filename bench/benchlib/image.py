"""An imitation of what nixpkgs' dockerTools.streamLayeredImage makes of the demo's closure.

No nixpkgs build runs on this machine, so the image is assembled here the way streamLayeredImage
lays one out: one layer per store path (each runtime package the binary links, and the binary's
own package), then a small customisation layer (the /bin symlink and the non-root user), a config
with a fixed `created`, all tars deterministic (sorted names, mtime 1, owner 0:0, numeric ids).
The "store paths" are Debian's packages that provide the libraries `ldd` lists, whole (a Nix store
path carries its package's whole output too), under nix/store/<hash>-<name>-<version>/. A source
change alters the binary, so its store path, its layer, the customisation layer and the config;
the library layers stay byte-identical.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

CREATED = "1970-01-01T00:00:01Z"
NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz"


def nix_hash(seed: bytes) -> str:
    """32 characters in Nix's base32 alphabet, as a store path's hash part looks."""
    n = int.from_bytes(hashlib.sha256(seed).digest()[:20], "big")
    return "".join(NIX_BASE32[(n >> (5 * i)) & 31] for i in range(32))


def oci_arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def linked_libraries(binary: Path) -> list[Path]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    libs: list[Path] = []
    for line in out.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
        if path.startswith("/"):
            libs.append(Path(path))
    return libs


def _dpkg_owner(lib: Path) -> str | None:
    for cand in (str(lib), os.path.realpath(lib)):
        r = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout:
            return r.stdout.split(":", 1)[0].strip()
    return None


def runtime_store_paths(binary: Path) -> list[dict]:
    """The binary's runtime libraries grouped into package-sized "store paths"."""
    groups: dict[str, dict] = {}
    have_dpkg = shutil.which("dpkg") is not None
    for lib in linked_libraries(binary):
        pkg = _dpkg_owner(lib) if have_dpkg else None
        if pkg is None:
            # No package database: each library is its own store path.
            key = lib.name
            groups.setdefault(key, {"name": key, "files": []})["files"].append(str(lib))
            continue
        if pkg in groups:
            continue
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, check=True
        ).stdout.strip()
        listed = subprocess.run(
            ["dpkg", "-L", pkg], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        files = [f for f in listed if os.path.islink(f) or os.path.isfile(f)]
        groups[pkg] = {"name": f"{pkg}-{version}", "files": files}
    return list(groups.values())


def _tarinfo(name: str, **kw) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mtime = 1
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def _write_layer(entries: dict[str, tuple], dest: Path) -> None:
    """entries: archive name -> ("dir",) | ("file", source path or bytes, mode) | ("link", target).
    Written sorted by name, with every parent directory, like `tar --sort=name --mtime=@1
    --owner=0 --group=0 --numeric-owner`."""
    names = set(entries)
    for name in list(entries):
        parts = name.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent not in names:
                entries[parent] = ("dir",)
                names.add(parent)
    with tarfile.open(dest, "w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(entries):
            kind = entries[name]
            if kind[0] == "dir":
                tar.addfile(_tarinfo(name, type=tarfile.DIRTYPE, mode=0o555))
            elif kind[0] == "link":
                tar.addfile(_tarinfo(name, type=tarfile.SYMTYPE, linkname=kind[1], mode=0o777))
            else:
                src, mode = kind[1], kind[2]
                data = src if isinstance(src, bytes) else Path(src).read_bytes()
                tar.addfile(_tarinfo(name, size=len(data), mode=mode), io.BytesIO(data))


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stdenv_strip(binary: Path, dest: Path) -> None:
    """What nixpkgs' stdenv does to the app's $out/bin in fixupPhase: its strip hook
    (pkgs/build-support/setup-hooks/strip.sh) runs `$STRIP -S -p` (stripDebugFlags' default) on
    every file under stripDebugList (default `lib lib32 lib64 libexec bin sbin`) unless
    `dontStrip` is set, and crane never sets it (v0.23.4: only remapPathPrefixHook.sh reads it).
    So a Nix-built binary carries no debug info, whatever the cargo profile's `debug`."""
    shutil.copy2(binary, dest)
    subprocess.run(["strip", "-S", "-p", str(dest)], check=True)


def build_archive(binary: Path, name: str, version: str, dest: Path) -> dict:
    """Writes a docker-archive of the imitated image to dest; returns its layer list and sizes.
    The binary goes in as the app derivation's fixupPhase leaves it (stdenv_strip)."""
    layers: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-layers-") as tmpdir:
        work = Path(tmpdir)
        built = binary
        binary = work / name
        stdenv_strip(built, binary)

        def add_layer(label: str, entries: dict[str, tuple]) -> None:
            path = work / f"layer{len(layers)}.tar"
            _write_layer(entries, path)
            layers.append({"label": label, "path": path, "sha256": _sha256_file(path),
                           "bytes": path.stat().st_size})

        for sp in runtime_store_paths(binary):
            seed = sp["name"].encode()
            for f in sorted(sp["files"]):
                seed += f.encode() + (
                    os.readlink(f).encode() if os.path.islink(f) else Path(f).read_bytes()
                )
            store = f"nix/store/{nix_hash(seed)}-{sp['name']}"
            entries: dict[str, tuple] = {}
            for f in sp["files"]:
                arc = f"{store}/{f.lstrip('/')}"
                if os.path.islink(f):
                    entries[arc] = ("link", os.readlink(f))
                else:
                    entries[arc] = ("file", f, os.stat(f).st_mode & 0o777)
            add_layer(store, entries)

        # The app's store path hash stands in for Nix's input hash, which a source change alters.
        app_store = f"nix/store/{nix_hash(binary.read_bytes())}-{name}-{version}"
        add_layer(app_store, {f"{app_store}/bin/{name}": ("file", str(binary), 0o555)})
        exe = f"/{app_store}/bin/{name}"
        add_layer(
            "customisation layer",
            {
                f"bin/{name}": ("link", exe),
                "etc/passwd": ("file", b"root:x:0:0::/root:/noshell\napp:x:1000:1000::/:/noshell\n", 0o444),
                "etc/group": ("file", b"root:x:0:\napp:x:1000:\n", 0o444),
                "tmp": ("dir",),
            },
        )

        config = {
            "architecture": oci_arch(),
            "os": "linux",
            "created": CREATED,
            "config": {
                "Entrypoint": [exe],
                "User": "1000:1000",
                "Env": ["LISTEN_ADDR=0.0.0.0:8080"],
                "ExposedPorts": {"8080/tcp": {}},
                "Labels": {"org.opencontainers.image.version": version},
            },
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{l['sha256']}" for l in layers]},
            "history": [{"created": CREATED, "comment": l["label"]} for l in layers],
        }
        config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
        manifest = [{
            "Config": config_name,
            "RepoTags": [f"{name}:bench"],
            "Layers": [f"{l['sha256']}/layer.tar" for l in layers],
        }]
        entries: dict[str, tuple] = {
            "manifest.json": ("file", json.dumps(manifest).encode(), 0o444),
            config_name: ("file", config_bytes, 0o444),
        }
        for l in layers:
            entries[f"{l['sha256']}/layer.tar"] = ("file", str(l["path"]), 0o444)
        _write_layer(entries, dest)

        binary_bytes = {"cargo": built.stat().st_size, "after_stdenv_strip": binary.stat().st_size}
    return {
        "archive_bytes": dest.stat().st_size,
        "binary_bytes": binary_bytes,
        "layers": [{"label": l["label"], "bytes": l["bytes"], "diff_id": f"sha256:{l['sha256']}"}
                   for l in layers],
    }
