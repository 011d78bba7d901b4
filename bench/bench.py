#!/usr/bin/env python3
"""ship's benchmarks: what the design saves, measured side by side in one run.

  bench/run.sh            full mode: dev and release, cold builds, profile ablation (long)
  bench/run.sh --quick    CI mode: every part, at smoke size (a few minutes on 2 cores)

Prints figures (Markdown on stdout, progress on stderr) and writes results.json; it never judges
them. See BENCHMARKS.md for the latest full results and what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import builds, crane, image, model, naersk, registry, repush  # noqa: E402
from benchlib.report import markdown  # noqa: E402
from benchlib.measure import log, loadavg, machine, repeat, run, wait_for_quiet  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "demo-service"
BINARY = "demo-service"
# The placeholder the report prints when `ship release` is not (yet) available: never a number.
RELEASE_MISSING = "not measured: `ship release` is not available in this build"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="CI mode: dev profile only, no cold builds, smoke-sized profile check")
    p.add_argument("--workdir", type=Path,
                   help="where copies, target dirs and images go (default: a new temp dir)")
    p.add_argument("--json", type=Path, help="also write results.json here")
    p.add_argument("--keep", action="store_true", help="keep the work dir (several GB in full mode)")
    p.add_argument("--nice", type=int, default=10, help="niceness of builds (default 10)")
    p.add_argument("--wait-load", type=float,
                   help="before measuring, wait until the 1-min load average is below this")
    p.add_argument("--wait-max", type=float, default=1200, help="longest wait for --wait-load, s")
    p.add_argument("--no-ablation", action="store_true",
                   help="full mode: skip the one-setting-reverted release builds")
    p.add_argument("--no-flake-split", action="store_true",
                   help="skip part 1b, crane's own command sequences and archives for the\n"
                        "derivations of nix/crate.nix and nix/checks.nix")
    p.add_argument("--worktree", action="store_true",
                   help="measure the work tree with its uncommitted changes, not HEAD")
    p.add_argument("--runs", type=int, help="runs per helper-overhead figure (20 full, 5 quick)")
    p.add_argument("--only", default="split,naersk,profile,push,helper",
                   help="comma-separated parts to run (default all but repush):\n"
                        "split,naersk,profile,push,helper,repush; profile and push need split\n"
                        "(they use its builds); naersk (1c) measures crane's and naersk's split\n"
                        "alone; repush (re-pushes from fresh clients, layer records) runs on its own")
    p.add_argument("--report", type=Path, metavar="RESULTS_JSON",
                   help="measure nothing: print the report of an earlier run's results.json,\n"
                        "with the model recomputed (e.g. under other --assume values)")
    p.add_argument("--assume", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model assumption (see bench/benchlib/model.py)")
    return p.parse_args()


def ship_binary(src: Path, target: Path | None) -> Path:
    """Builds the helper from src: in full mode as shipped (release profile) in its own target
    dir; in quick mode as the test command already built it (debug, the shared target dir, so
    it costs nothing in CI), where the figures are not the point."""
    return cargo_executable(src, target, "ship", "ship")


def harness_binary() -> Path:
    """The tests' registry harness (crates/ship-test-support, `ship-harness`), built as the
    test command builds it (debug, the shared target dir): it is measured by nothing."""
    return cargo_executable(ROOT, None, "ship-test-support", "ship-harness")


def cargo_executable(src: Path, target: Path | None, package: str, name: str) -> Path:
    """`cargo build -p PACKAGE` in src (release, into target, when target is given): the path
    of its executable NAME."""
    env = dict(os.environ)
    if target is not None:
        env["CARGO_TARGET_DIR"] = str(target)
    out = subprocess.run(
        ["nice", "-n", "10", "cargo", "build", "-p", package, "--bin", name, "--locked",
         "--message-format=json"]
        + (["--release"] if target is not None else []),
        cwd=src, capture_output=True, text=True, env=env,
    )
    if out.returncode != 0:
        raise RuntimeError(f"cargo build -p {package} failed:\n{out.stderr[-3000:]}")
    for line in out.stdout.splitlines():
        msg = json.loads(line) if line.startswith("{") else {}
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and \
                msg["target"]["name"] == name:
            return Path(msg["executable"])
    raise RuntimeError(f"cargo build -p {package} produced no `{name}` executable")


def has_subcommand(ship: Path, name: str) -> bool:
    return subprocess.run([str(ship), name, "--help"], capture_output=True).returncode == 0


def helper_overhead(ship: Path, runs: int, workdir: Path, log_to: Path) -> dict:
    manifest = str(ROOT / "Cargo.toml")
    plan_cmd = [str(ship), "--manifest", manifest, "plan", "--format", "json",
                "--ref", "refs/tags/v1.2.3", "--event", "push", "--sha", "0123456789abcdef" * 2 + "01234567"]
    res: dict = {"ship_binary": str(ship)}
    run(plan_cmd, log_to=log_to)  # warm the page cache; not counted
    res["plan"] = repeat(plan_cmd, runs, log_to=log_to)
    if has_subcommand(ship, "release"):
        res["release_dry_run"] = helper_release_dry_run(ship, runs, workdir, log_to)
    else:
        res["release_dry_run"] = RELEASE_MISSING
    return res


FIXTURE_FLAKE = ROOT / "crates/ship/tests/fixtures/flake"


def helper_release_dry_run(ship: Path, runs: int, workdir: Path, log_to: Path) -> dict | str:
    """`ship release --dry-run` of a production release (amd64 + cross arm64). The repo's own
    flake needs nixpkgs and crane, which this machine cannot fetch, so it runs on the Nix 2.8
    fixture flake with the same attribute names: the figure includes Nix evaluating that flake
    and its read-only dry run, which is what --dry-run costs on any flake."""
    if shutil.which("nix") is None:
        return "not measured: `nix` is not on PATH (Debian package nix-bin)"
    flake = workdir / "fixture-flake"
    shutil.rmtree(flake, ignore_errors=True)
    shutil.copytree(FIXTURE_FLAKE, flake)
    (flake / "salt").write_text(f"bench-{time.time_ns()}\n", encoding="utf-8")
    manifest = workdir / "fixture-Cargo.toml"
    manifest.write_text(
        '[package]\nname = "fixture"\nversion = "0.1.0"\n\n[workspace]\n\n'
        '[workspace.metadata.ship]\nbinary = "fixture"\nimage = "127.0.0.1:5000/bench/fixture"\n'
        'cache = "cachix:bench"\n', encoding="utf-8")
    env = dict(os.environ, SHIP_NIX_ARGS="--option substituters ''",
               XDG_CACHE_HOME=str(workdir / "xdg-cache"))
    cmd = [str(ship), "--manifest", str(manifest), "release", "--dry-run",
           "--flake", f"path:{flake}", "--ref", "refs/tags/v1.2.3", "--event", "push"]
    try:
        run(cmd, env=env, log_to=log_to, timeout=300)  # first evaluation; not counted
    except Exception as e:  # a failing dry run is reported as such, never as a time
        return f"not measured: `{' '.join(cmd[1:])}` failed: {str(e).splitlines()[-1][:300]}"
    return {**repeat(cmd, runs, env=env, log_to=log_to, timeout=300),
            "flake": "Nix 2.8 fixture flake (crates/ship/tests/fixtures/flake), production variant"}


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    assume = {}
    for kv in args.assume:
        k, _, v = kv.partition("=")
        if k not in model.ASSUMPTIONS:
            print(f"bench: unknown assumption {k!r}; known: {', '.join(model.ASSUMPTIONS)}",
                  file=sys.stderr)
            return 2
        assume[k] = float(v)

    if args.report:
        results = json.loads(args.report.read_text(encoding="utf-8"))
        results["model"] = model.estimate(results, assume)
        print(markdown(results))
        return 0
    parts = set(args.only.split(","))
    unknown = parts - {"split", "naersk", "profile", "push", "helper", "repush"}
    if unknown or ("split" not in parts and parts & {"profile", "push"}):
        print(f"bench: --only {args.only}: parts are split, naersk, profile, push, helper, repush, and "
              "profile and push need split", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ship-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log_to = workdir / "commands.log"
    keep = workdir / "binaries"
    log(f"work dir {workdir}; command output in {log_to}")

    results: dict = {
        "mode": "quick" if args.quick else "full",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "nice": args.nice,
        "parts": sorted(parts),
    }
    try:
        # Network only if the registry cache lacks something; every build below is --offline.
        run(["cargo", "fetch", "--locked"], cwd=ROOT, log_to=log_to)
        if args.wait_load is not None:
            results["wait_for_quiet"] = wait_for_quiet(args.wait_load, args.wait_max)
        results["machine"] = machine()
        src = workdir / "source"
        results["git_rev"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                                            capture_output=True, text=True).stdout.strip()
        results["git_dirty"] = args.worktree and bool(subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain"],
            capture_output=True, text=True).stdout.strip())
        files = builds.snapshot(ROOT, src, args.worktree, results["git_rev"])
        results["source"] = "work tree" if args.worktree else "the commit (git archive)"
        results["crates"] = builds.crate_count(src, PACKAGE)
        # Only parts 3, 3b and 4 run `ship`; its release build is minutes of the full mode.
        ship = None
        if parts & {"push", "repush", "helper"}:
            log("building ship")
            ship = ship_binary(ROOT if args.quick else src,
                               None if args.quick else workdir / "target-ship")
            results["ship_profile"] = "dev" if args.quick else "release"

        # Part 1: crane's split.
        profiles = ["dev"] if args.quick else ["dev", "release"]
        results["dependency_split"] = [] if "split" not in parts else [
            builds.dependency_split(src, files, workdir, profile=p, package=PACKAGE, binary=BINARY,
                                    nice=args.nice, cold=not args.quick, keep=keep, log_to=log_to)
            for p in profiles
        ]

        # Part 1b: the derivations crane builds for nix/crate.nix and nix/checks.nix, with
        # crane's command sequences and archives, before and after the deps split (quick mode:
        # the flake's own layout of the dev profile only).
        if not args.no_flake_split and "split" in parts:
            results["crane"] = [
                crane.crane_split(src, files, workdir, profile=p, binary=BINARY, nice=args.nice,
                                  log_to=log_to,
                                  which=("after",) if args.quick else ("before", "after"))
                for p in profiles
            ]

        # Part 1c: naersk's split beside crane's image split, measured one right after the
        # other. Quick mode runs it on the dependency-free smoke crate (seconds, so the code
        # cannot rot); its figures say nothing about the demo.
        if "naersk" in parts:
            if args.quick:
                subject = workdir / "smoke-builders"
                builds.write_smoke_crate(src, subject)
                subject_files, name = naersk.smoke_files(subject), "bench-smoke"
            else:
                subject, subject_files, name = src, files, BINARY
            results["builders"] = [
                naersk.builders_split(subject, subject_files, workdir, profile=p, binary=name,
                                      nice=args.nice, log_to=log_to,
                                      subject="bench-smoke (quick)" if args.quick else PACKAGE)
                for p in profiles
            ]

        # Part 2: the planned release profile vs cargo's default.
        if "profile" not in parts:
            pass
        elif args.quick:
            smoke = workdir / "smoke"
            builds.write_smoke_crate(src, smoke)
            results["release_profile"] = builds.release_profiles(
                smoke, workdir, package="bench-smoke", binary="bench-smoke", nice=args.nice,
                keep=keep / "smoke", log_to=log_to, planned=None, planned_binary=None,
                ablation=False)
        else:
            rel = results["dependency_split"][1]
            results["release_profile"] = builds.release_profiles(
                workdir / "ws-release-cold", workdir, package=PACKAGE, binary=BINARY,
                nice=args.nice, keep=keep, log_to=log_to, planned=dict(rel["cold_full"]),
                planned_binary=keep / "release-cold", ablation=not args.no_ablation)

        # Part 3: push the imitated image, first / again / after a source change; per profile
        # built (the release image is the one production pushes; dev images are much larger).
        results["push"] = []
        harness = harness_binary() if "push" in parts else None
        for img_profile in profiles if "push" in parts else ():
            images = []
            for label, suffix in (("v1", "app"), ("v2", "changed")):
                archive = workdir / f"image-{img_profile}-{label}.tar"
                info = image.build_archive(keep / f"{img_profile}-{suffix}", BINARY, "0.1.0", archive)
                results.setdefault("images", {}).setdefault(img_profile, {})[label] = info
                images.append(archive)
            cycle = registry.push_cycle(
                ship, harness,
                [("first push", images[0]), ("re-push, same image", images[0]),
                 ("push after a source-only change", images[1])],
                workdir / f"push-{img_profile}", repo="bench/demo-service",
                platform=f"linux/{image.oci_arch()}", log_to=log_to)
            results["push"].append({"image_profile": img_profile, **cycle})

        # Part 3b: re-pushing what the registry already has (layer records), on its own:
        # `--only repush`.
        if "repush" in parts:
            results["repush"] = repush.repush(
                ship, harness_binary(), ROOT, workdir / "push-repush", keep / "repush",
                quick=args.quick, log_to=log_to)

        # Part 4: helper overhead.
        runs = args.runs or (5 if args.quick else 20)
        if "helper" in parts:
            results["helper"] = helper_overhead(ship, runs, workdir, log_to)

        # Part 5: the paper model (full mode only: it needs the cold builds).
        results["model"] = model.estimate(results, assume)
    finally:
        results["load_at_end"] = loadavg()
        results["duration_s"] = round(time.monotonic() - started, 1)
        out = workdir / "results.json"
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(out, args.json)
        if not args.keep:
            for p in workdir.iterdir():
                if p.is_dir() and p.name.startswith(("target-", "ws-", "push", "smoke", "fixture-flake", "xdg-cache", "source", "binaries")):
                    shutil.rmtree(p, ignore_errors=True)
            for p in [*workdir.glob("image-*.tar"), *workdir.glob("marker-*"),
                      *workdir.glob("naersk-*.tar.zst")]:
                p.unlink()
        log(f"results in {out} ({results['duration_s']} s)")

    print(markdown(results))
    if "repush" in results:
        print(repush.markdown(results["repush"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
