"""Part 3: pushes to a local Distribution registry, with the bytes counted on the wire.

The registry is the test harness's (`ship-harness registry`, the tests' own Registry): 127.0.0.1
on a port it picks itself, with its own storage in a temp dir. The client talks to it through a
byte-counting TCP relay, so "bytes uploaded" is measured outside `ship` (request bodies plus HTTP
overhead), and is cross-checked against the blobs the registry stored.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import urllib.request
from pathlib import Path

from .measure import log, run

class Registry:
    """The test harness's registry (`ship-harness registry`, crates/ship-test-support): a
    plain-HTTP Distribution registry on 127.0.0.1 with its storage in a temp dir, stopped by
    stop() (also on errors: use as a context) by closing the harness's stdin."""

    def __init__(self, harness: Path, workdir: Path):
        self.harness = harness
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.storage = Path()

    def __enter__(self) -> "Registry":
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.workdir / "harness.log", "wb") as logf:
            self.proc = subprocess.Popen(
                [str(self.harness), "registry"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logf,
            )
        line = self.proc.stdout.readline()
        try:
            info = json.loads(line)
            self.port = int(info["addr"].rsplit(":", 1)[1])
            self.storage = Path(info["storage"])
        except (ValueError, KeyError, IndexError) as e:
            self.stop()
            raise RuntimeError(
                f"ship-harness registry did not start ({e}); see {self.workdir / 'harness.log'}"
            ) from e
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def blobs(self) -> dict[str, int]:
        """digest -> size of every blob the registry holds."""
        base = self.storage / "docker/registry/v2/blobs/sha256"
        out: dict[str, int] = {}
        if base.is_dir():
            for prefix in base.iterdir():
                for d in prefix.iterdir():
                    data = d / "data"
                    if data.is_file():
                        out[f"sha256:{d.name}"] = data.stat().st_size
        return out

    def manifest(self, repo: str, digest: str) -> dict:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v2/{repo}/manifests/{digest}",
            headers={"Accept": ", ".join([
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
            ])},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())


class CountingRelay:
    """A TCP relay on 127.0.0.1 that counts the bytes each way."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.up = 0
        self.down = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.up = self.down = 0

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return self.up, self.down

    def close(self) -> None:
        self.closed = True
        self.sock.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upward: bool) -> None:
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                dst.sendall(data)
                with self.lock:
                    if upward:
                        self.up += len(data)
                    else:
                        self.down += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            src.close()


def fresh_client_env(home: Path) -> dict[str, str]:
    """A client with no local state: empty HOME and caches, no auth file, no proxy settings."""
    home.mkdir(parents=True, exist_ok=True)
    drop = {"DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "HTTP_PROXY", "HTTPS_PROXY",
            "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("SHIP_")}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        TMPDIR=str(home / "tmp"),
    )
    (home / "tmp").mkdir(exist_ok=True)
    return env


def push_cycle(
    ship: Path,
    harness: Path,
    images: list[tuple[str, Path]],
    workdir: Path,
    *,
    repo: str,
    platform: str,
    log_to: Path,
) -> dict:
    """Pushes each (label, docker-archive) in order, each from a fresh client, to one registry."""
    results: dict = {"repo": repo, "pushes": []}
    with Registry(harness, workdir / "registry") as reg:
        relay = CountingRelay(reg.port)
        try:
            for i, (label, archive) in enumerate(images):
                before = reg.blobs()
                relay.reset()
                env = fresh_client_env(workdir / f"client-{i}")
                target = f"127.0.0.1:{relay.port}/{repo}"
                log(f"[push] {label}: ship push-image {archive.name} --to {target}")
                t = run([str(ship), "push-image", str(archive), "--to", target,
                         "--platform", platform, "--format", "json"], env=env, log_to=log_to)
                up, down = relay.counts()
                after = reg.blobs()
                try:
                    pushed = json.loads(t.stdout)
                    digest = pushed["manifest_digest"]
                except (ValueError, KeyError) as e:
                    raise RuntimeError(
                        f"ship push-image --format json: no manifest_digest ({e}); stdout: {t.stdout!r}"
                    ) from e
                manifest = reg.manifest(repo, digest)
                image_bytes = manifest["config"]["size"] + sum(l["size"] for l in manifest["layers"])
                new_blobs = {d: s for d, s in after.items() if d not in before}
                results["pushes"].append({
                    "label": label,
                    "digest": digest,
                    "wall_s": round(t.wall_s, 3),
                    "cpu_s": round(t.cpu_s, 3),
                    "load_before": t.load_before,
                    "bytes_sent_on_wire": up,
                    "bytes_received_on_wire": down,
                    "new_blobs_stored": len(new_blobs),
                    "new_blob_bytes_stored": sum(new_blobs.values()),
                    "image_bytes_compressed": image_bytes,
                    "image_layers": len(manifest["layers"]),
                    "layer_sizes": [l["size"] for l in manifest["layers"]],
                    "uploaded_fraction_of_image": round(up / image_bytes, 4) if image_bytes else None,
                    "ship_reported": {k: pushed.get(k) for k in (
                        "layers", "layers_uploaded", "layers_skipped", "bytes_uploaded",
                        "bytes_skipped", "uncompressed_bytes", "retries")},
                    "ship_progress": t.stderr.strip()[-2000:],
                })
        finally:
            relay.close()
    return results
