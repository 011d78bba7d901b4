"""Part "repush": re-pushing what the registry already has, from clients with no local state.

For two images, each push from a fresh client (empty HOME, TMPDIR and caches) to the tests'
registry (`ship-harness registry`), through the byte-counting relay of registry.py:

  first push              the registry has nothing;
  re-push                 the same docker-archive again: ship reads each layer's record;
  re-push, stream script  the same image from a streamLayeredImage-style script (one that cats
                          the archive: the cheapest a script can be, so ship's share shows);
  re-push, no records     the same archive after the layer records were deleted from the
                          registry: what a registry without records costs (compress and HEAD);
  changed push            one layer changed (the big image) or a source-only change (the demo
                          image: its app layer and the customisation layer that links it).

Images: one layer of 256 MiB of incompressible bytes (the figure the issue names), and the
demo's release image as image.py imitates it. Each push's wall and CPU time, its ratio to the
first push of the same image, its peak RSS (ru_maxrss of ship and its children, see
RUSAGE_HELPER) and what ship's JSON report says of each layer. The load average is recorded with every push.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import image
from .measure import log, loadavg
from .registry import CountingRelay, Registry, fresh_client_env

RECORD_SUFFIX = ".ship-layer"


def incompressible_archive(dest: Path, size: int, seed: int) -> None:
    """A docker-archive of one layer holding one file of `size` pseudo-random bytes from
    `seed`, laid out as streamLayeredImage lays one out (`<sha256>/layer.tar`, a config with
    rootfs.diff_ids, manifest.json last). Written in 1 MiB pieces: never held in memory."""
    work = dest.with_suffix(".layer.tar")
    rng = random.Random(seed)

    class Payload:
        def __init__(self, n: int):
            self.left = n

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return rng.randbytes(n)

    with tarfile.open(work, "w", format=tarfile.GNU_FORMAT) as tar:
        for d in ("nix", "nix/store", f"nix/store/{image.nix_hash(str(seed).encode())}-blob"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o555, 1
            tar.addfile(ti)
        ti = tarfile.TarInfo(f"nix/store/{image.nix_hash(str(seed).encode())}-blob/data")
        ti.size, ti.mode, ti.mtime = size, 0o444, 1
        tar.addfile(ti, Payload(size))
    h = hashlib.sha256()
    with open(work, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    diff_id = h.hexdigest()
    config = json.dumps({
        "architecture": image.oci_arch(), "os": "linux", "created": image.CREATED,
        "config": {"Entrypoint": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": image.CREATED, "comment": "256 MiB of incompressible data"}],
    }, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["blob:bench"],
                            "Layers": [f"{diff_id}/layer.tar"]}]).encode()
    with tarfile.open(dest, "w", format=tarfile.GNU_FORMAT) as tar:
        ti = tar.gettarinfo(str(work), arcname=f"{diff_id}/layer.tar")
        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 1, 0, 0, "", ""
        with open(work, "rb") as f:
            tar.addfile(ti, f)
        for name, data in ((config_name, config), ("manifest.json", manifest)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 1
            tar.addfile(ti, io.BytesIO(data))
    work.unlink()


def stream_script(archive: Path) -> Path:
    """A stand-in for a streamLayeredImage script that writes `archive` to stdout."""
    script = archive.with_suffix(".stream")
    script.write_text(f"#!/bin/sh\nexec cat '{archive}'\n", encoding="utf-8")
    script.chmod(0o755)
    return script


def demo_binaries(root: Path, keep: Path, *, profile: str, log_to: Path) -> tuple[Path, Path]:
    """The demo binary twice, built from the checkout with two SHIP_GIT_REV values: a
    source-only change (build.rs bakes the revision in), recompiling only the demo crate."""
    out = []
    keep.mkdir(parents=True, exist_ok=True)
    for rev in ("bench-repush-a", "bench-repush-b"):
        cmd = ["nice", "-n", "10", "cargo", "build", "--locked", "-p", "demo-service",
               "--bin", "demo-service", "--message-format=json"]
        if profile == "release":
            cmd.append("--release")
        log(f"[repush] building demo-service ({profile}, SHIP_GIT_REV={rev})")
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True,
                              env={**os.environ, "SHIP_GIT_REV": rev})
        with open(log_to, "a", encoding="utf-8") as f:
            f.write(f"$ SHIP_GIT_REV={rev} {' '.join(cmd)}\n{proc.stderr}\n")
        if proc.returncode != 0:
            raise RuntimeError(f"cargo build -p demo-service failed:\n{proc.stderr[-3000:]}")
        exe = None
        for line in proc.stdout.splitlines():
            msg = json.loads(line) if line.startswith("{") else {}
            if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
                exe = Path(msg["executable"])
        if exe is None:
            raise RuntimeError("cargo build -p demo-service produced no executable")
        copy = keep / f"demo-service-{rev}"
        shutil.copy2(exe, copy)
        out.append(copy)
    return out[0], out[1]


# Runs argv[2:] and writes its rusage to argv[1]. Linux carries a process's peak RSS across
# exec, so ship started straight from this (large) Python process would report this process's
# peak as its own; started from a small fresh interpreter, it carries only that one's (~10 MiB).
RUSAGE_HELPER = """
import json, os, sys, time
start = time.monotonic()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - start
with open(sys.argv[1], "w") as f:
    json.dump({"code": os.waitstatus_to_exitcode(status), "maxrss_kib": ru.ru_maxrss,
               "cpu_s": ru.ru_utime + ru.ru_stime, "wall_s": wall}, f)
"""


def timed_push(ship: Path, source: Path, target: str, env: dict, log_to: Path) -> dict:
    """One `ship push-image --format json`: wall and CPU seconds and peak RSS (ru_maxrss of
    ship and the children it waited for, e.g. a stream script)."""
    load = loadavg()
    usage_file = Path(env["TMPDIR"]) / "rusage.json"
    with open(log_to, "a", encoding="utf-8") as logf:
        logf.write(f"$ ship push-image {source} --to {target} --format json\n")
        logf.flush()
        proc = subprocess.run(
            [sys.executable, "-c", RUSAGE_HELPER, str(usage_file), str(ship), "push-image",
             str(source), "--to", target, "--format", "json"],
            stdout=subprocess.PIPE, stderr=logf, env=env)
    usage = json.loads(usage_file.read_text(encoding="utf-8"))
    wall = usage["wall_s"]
    if proc.returncode != 0 or usage["code"] != 0:
        raise RuntimeError(f"ship push-image {source} failed ({usage['code']}); see {log_to}")
    stdout = proc.stdout
    report = json.loads(stdout)
    layers = [b for b in report["blobs"] if b["kind"] == "layer"]
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage["cpu_s"], 3),
        "peak_rss_mib": round(usage["maxrss_kib"] / 1024, 1),
        "load_before": load,
        "digest": report["manifest_digest"],
        "layers": len(layers),
        "resolutions": [b["resolution"] for b in layers],
        "layers_compressed": report["layers_compressed"],
        "layers_recorded": report["layers_recorded"],
        "layers_uploaded": report["layers_uploaded"],
        "bytes_uploaded": report["bytes_uploaded"],
        "diff_ids": [b.get("diff_id") for b in layers],
    }


def delete_records(port: int, repo: str, diff_ids: list[str]) -> int:
    """Delete the layer records of `diff_ids` from `repo` (a registry without records)."""
    deleted = 0
    for diff_id in diff_ids:
        tag = f"sha256-{diff_id.split(':', 1)[1]}{RECORD_SUFFIX}"
        url = f"http://127.0.0.1:{port}/v2/{repo}/manifests/{tag}"
        head = urllib.request.Request(url, method="HEAD", headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json"})
        try:
            with urllib.request.urlopen(head, timeout=30) as resp:
                digest = resp.headers["Docker-Content-Digest"]
        except urllib.error.HTTPError:
            continue
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/{repo}/manifests/{digest}",
                                     method="DELETE")
        with urllib.request.urlopen(req, timeout=30):
            deleted += 1
    return deleted


def cycle(ship: Path, reg: Registry, relay: CountingRelay, workdir: Path, repo: str,
          v1: Path, v2: Path, log_to: Path) -> list[dict]:
    """The five pushes of one image, each from a fresh client; ratios to the first."""
    target = f"127.0.0.1:{relay.port}/{repo}"
    steps = [
        ("first push", v1, None),
        ("re-push, same docker-archive", v1, None),
        ("re-push, same image from a stream script", stream_script(v1), None),
        ("re-push, records deleted (compress and check)", v1, "delete-records"),
        ("push after the change", v2, None),
    ]
    rows: list[dict] = []
    for i, (label, source, before) in enumerate(steps):
        if before == "delete-records":
            n = delete_records(reg.port, repo, rows[0]["diff_ids"])
            log(f"[repush] {repo}: deleted {n} layer records")
        relay.reset()
        env = fresh_client_env(workdir / f"client-{repo.replace('/', '-')}-{i}")
        log(f"[repush] {repo}: {label}")
        row = {"label": label, **timed_push(ship, source, target, env, log_to)}
        row["bytes_sent_on_wire"] = relay.counts()[0]
        row["ratio_to_first"] = round(row["wall_s"] / rows[0]["wall_s"], 3) if rows else 1.0
        rows.append(row)
    return rows


def repush(ship: Path, harness: Path, root: Path, workdir: Path, keep: Path, *, quick: bool,
           log_to: Path) -> dict:
    size = (32 if quick else 256) << 20
    profile = "dev" if quick else "release"
    workdir.mkdir(parents=True, exist_ok=True)
    big = [workdir / "big-v1.tar", workdir / "big-v2.tar"]
    for seed, path in enumerate(big, start=1):
        log(f"[repush] writing {path.name}: one layer of {size >> 20} MiB incompressible data")
        incompressible_archive(path, size, seed)
    a, b = demo_binaries(root, keep, profile=profile, log_to=log_to)
    demo = [workdir / "demo-v1.tar", workdir / "demo-v2.tar"]
    demo_info = [image.build_archive(binary, "demo-service", "0.1.0", path)
                 for binary, path in zip((a, b), demo)]
    result: dict = {
        "big_layer_bytes": size,
        "demo_profile": profile,
        "demo_layers": [len(i["layers"]) for i in demo_info],
        "demo_archive_bytes": [i["archive_bytes"] for i in demo_info],
        "images": [],
    }
    with Registry(harness, workdir / "registry") as reg:
        relay = CountingRelay(reg.port)
        try:
            for name, repo, (v1, v2), change in (
                (f"{size >> 20} MiB incompressible, one layer", "bench/big", big,
                 "its one layer replaced"),
                (f"demo release image ({profile})", "bench/demo-service", demo,
                 "source-only change (app + customisation layers)"),
            ):
                rows = cycle(ship, reg, relay, workdir, repo, v1, v2, log_to)
                for r in rows:
                    r.pop("diff_ids", None)
                result["images"].append({"image": name, "change": change, "pushes": rows})
        finally:
            relay.close()
    for p in (*big, *demo):
        p.unlink(missing_ok=True)
        p.with_suffix(".stream").unlink(missing_ok=True)
    return result


def markdown(res: dict) -> str:
    """The repush table: one row per push, per image."""
    out = ["### Re-pushing what the registry already has (fresh client every push)", ""]
    out.append("| image | push | wall | ratio to first | CPU | peak RSS | layers compressed / "
               "found by record / uploaded | sent | load before |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |")
    for img in res["images"]:
        for r in img["pushes"]:
            label = r["label"] if r["label"] != "push after the change" else \
                f"push after the change ({img['change']})"
            out.append(
                f"| {img['image']} | {label} | {r['wall_s']:.2f} s | {r['ratio_to_first']:.3f} | "
                f"{r['cpu_s']:.2f} s | {r['peak_rss_mib']:.0f} MiB | "
                f"{r['layers_compressed']} / {r['layers_recorded']} / {r['layers_uploaded']} "
                f"of {r['layers']} | {r['bytes_sent_on_wire'] / 2**20:.1f} MiB | "
                f"{' '.join(f'{x:.2f}' for x in r['load_before'])} |")
    return "\n".join(out) + "\n"
