"""Running commands and timing them, with the machine's load recorded beside every figure.

The machine these benchmarks run on may be shared, so every timed step records wall time AND the
CPU time of the process tree (less sensitive to other processes than wall time), plus the load
average before and after.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field, asdict
from pathlib import Path


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    with open("/proc/loadavg", encoding="ascii") as f:
        return [float(x) for x in f.read().split()[:3]]


def nproc() -> int:
    return len(os.sched_getaffinity(0))


@dataclass
class Timed:
    """One timed command: wall and CPU seconds, the load around it, and what it printed."""

    cmd: list[str]
    wall_s: float
    cpu_s: float
    load_before: list[float]
    load_after: list[float]
    stdout: str = field(repr=False, default="")
    stderr: str = field(repr=False, default="")

    def summary(self) -> dict:
        d = asdict(self)
        d.pop("stdout")
        d.pop("stderr")
        d["wall_s"] = round(self.wall_s, 3)
        d["cpu_s"] = round(self.cpu_s, 3)
        return d


class CommandFailed(RuntimeError):
    pass


def run(
    cmd: list[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    nice: int = 0,
    log_to: Path | None = None,
    timeout: float | None = None,
) -> Timed:
    """Runs cmd to completion and times it. A non-zero exit raises with the tail of stderr."""
    full = (["nice", "-n", str(nice)] if nice else []) + cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = loadavg()
    start = time.monotonic()
    try:
        proc = subprocess.run(full, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise CommandFailed(f"command timed out after {timeout} s: {' '.join(full)}") from e
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if log_to is not None:
        with open(log_to, "a", encoding="utf-8") as f:
            f.write(f"$ {' '.join(full)}\n{proc.stderr}\n")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-30:])
        raise CommandFailed(f"command failed ({proc.returncode}): {' '.join(full)}\n{tail}")
    return Timed(full, wall, cpu, load_before, loadavg(), proc.stdout, proc.stderr)


def repeat(cmd: list[str], n: int, **kw) -> dict:
    """Runs cmd n times; min/median/max wall seconds (min is the least disturbed by load)."""
    walls = [run(cmd, **kw).wall_s for _ in range(n)]
    return {
        "cmd": cmd,
        "runs": n,
        "min_s": round(min(walls), 4),
        "median_s": round(statistics.median(walls), 4),
        "max_s": round(max(walls), 4),
    }


def wait_for_quiet(threshold: float, max_wait_s: float, poll_s: float = 30.0) -> dict:
    """Polls the 1-minute load average until it is below threshold or max_wait_s has passed."""
    start = time.monotonic()
    seen = [loadavg()[0]]
    while seen[-1] >= threshold and time.monotonic() - start < max_wait_s:
        log(f"load {seen[-1]:.2f} >= {threshold}; waiting for a quieter machine")
        time.sleep(poll_s)
        seen.append(loadavg()[0])
    waited = time.monotonic() - start
    return {
        "threshold": threshold,
        "waited_s": round(waited, 1),
        "reached": seen[-1] < threshold,
        "load_1m_at_start": seen[-1],
    }


def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "nproc": nproc(),
        "mem_gib": mem_gib,
        "kernel": platform.release(),
        "arch": platform.machine(),
        "rustc": _first_line(["rustc", "-vV"], all_lines=True),
        "cargo": _first_line(["cargo", "-V"]),
        "load_at_start": loadavg(),
    }


def _first_line(cmd: list[str], all_lines: bool = False) -> str:
    if shutil.which(cmd[0]) is None:
        return "not found"
    out = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    return out if all_lines else (out.splitlines() or [""])[0]


def dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total
