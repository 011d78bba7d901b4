"""Part 5: expected CI timings on paper, from this run's measurements and stated assumptions.

Nothing here is measured: every output is an ESTIMATE computed from measured ratios (which
transfer between machines far better than absolute seconds) and the assumptions below, each
of which BENCHMARKS.md states and which `--assume KEY=VALUE` overrides.
"""

from __future__ import annotations

# The user's CI today (Docker, buildx, arm64 under QEMU), minutes, as reported by the user.
BASELINE = {"arm64_qemu": 44.0, "amd64": 22.0, "push": 11.0, "total": 82.0}

ASSUMPTIONS = {
    # The 22-minute amd64 Docker build is a cold release build of the user's workspace (a fresh
    # runner, no cargo cache inside the image build).
    "baseline_amd64_is_cold_release": 1.0,
    # Native arm64 runner (ubuntu-24.04-arm) compile speed relative to the amd64 runner.
    "arm64_native_speed_factor": 1.0,
    # Installing Nix, cachix-action and evaluating the flake, per job, minutes.
    "nix_setup_min": 1.5,
    # Download speed from cachix to a runner, MB/s (crane's deps artifacts, zstd).
    "cache_download_MBps": 50.0,
    # Upload speed from a runner to cachix, MB/s (deps artifacts after a Cargo.lock change).
    "cache_upload_MBps": 20.0,
    # The user's deps artifacts are larger than the demo's in proportion to cold build time.
    "artifacts_scale_with_build_time": 1.0,
    # Minutes for streamLayeredImage to assemble the image (stream, no tarball in the store).
    "image_assembly_min": 0.5,
    # The baseline push uploads both whole images every run; a platform's push takes half.
    "baseline_push_share_per_platform": 0.5,
    # Fixed registry round trips per push (HEADs, manifest), minutes, remote registry.
    "push_fixed_min": 0.2,
    # ship push-index + tags, and ship plan, minutes.
    "publish_min": 0.3,
}


def _m(seconds: float) -> float:
    return seconds / 60.0


def estimate(results: dict, assume: dict[str, float]) -> dict | None:
    """Estimated CI wall minutes for the dev and production variants, cache hit and miss."""
    split = {s["profile"]: s for s in results.get("dependency_split", [])}
    dev, rel = split.get("dev"), split.get("release")
    if not dev or not rel or "cold_full" not in dev or "cold_full" not in rel:
        return None  # quick mode: no cold builds, no model
    pushes = {c["image_profile"]: c["pushes"] for c in results.get("push") or []}
    if len(pushes.get("dev", [])) < 3 or len(pushes.get("release", [])) < 3:
        return None
    a = {**ASSUMPTIONS, **assume}
    # The package-only split stands for the user's workspace (theirs does not contain `ship`,
    # whose dependencies the flake split of this repository also builds). What nix/crate.nix
    # adds for a user too, the dev deps derivation's doCheck (`check --all-targets` and
    # `test --no-run` besides `build`), is applied as the factor the flake split measured.
    flake_dev = next((s for s in results.get("flake_split", []) if s["profile"] == "dev"), None)
    docheck = None
    if flake_dev:
        build_step = next(x for c, x in zip(flake_dev["deps_commands"], flake_dev["deps_steps"])
                          if " build " in f"{c} ")
        docheck = flake_dev["deps_only"]["cpu_s"] / build_step["cpu_s"]

    # CPU seconds, not wall: the machine is shared, and other builds stretch wall times by a
    # varying factor, while CPU time (the work cargo did) stays put from run to run.
    rel_cold_cpu = rel["cold_full"]["cpu_s"]
    base = BASELINE["amd64"] * a["baseline_amd64_is_cold_release"]
    # The user's cold release build is `base` minutes; every build step is that times its CPU
    # ratio to this run's cold release build of the demo.
    def build(split_: dict, cached: bool, deps_factor: float = 1.0) -> float:
        if cached:
            return base * split_["source_change"]["cpu_s"] / rel_cold_cpu
        deps = split_["deps_only"]["cpu_s"] * deps_factor
        return base * (deps + split_["app_on_deps"]["cpu_s"]) / rel_cold_cpu

    # Size of the user's workspace in demos: their cold build minutes over the demo's, taking
    # the demo's uncontended wall time as its CPU time spread over every core.
    demo_min = _m(rel_cold_cpu / results["machine"]["nproc"])
    scale = base / demo_min

    def artifacts_min(split_: dict, mbps: float, deps_factor: float = 1.0) -> float:
        # Artifacts are taken to grow like the work that made them.
        mb = split_["deps_artifacts"]["zstd_bytes"] / 1e6 * deps_factor
        return mb * scale * a["artifacts_scale_with_build_time"] / mbps / 60.0

    # The baseline's images are release builds; a dev image (debug binary) is larger, so its
    # push is scaled by its compressed size over the release image's as well.
    rel_image = pushes["release"][0]["image_bytes_compressed"]

    # Every CI run pushes onto a registry that has the previous release, so a run, cache hit or
    # miss (a Cargo.lock change alters only the binary too), costs the source-change push; the
    # first push of all (everything uploaded) happens once per repository.
    def push_share(profile: str, strip_debug: bool = False) -> float:
        p = pushes[profile][2]
        sent = p["bytes_sent_on_wire"]
        if strip_debug:
            # The binary's layer as if its debug info were stripped (gzip sizes, measured).
            b = split[profile]["binary_sizes"]
            sent += b["strip_debug_gzip_bytes"] - b["gzip_bytes"]
        return sent / rel_image

    push_platform = BASELINE["push"] * a["baseline_push_share_per_platform"]

    def job(split_: dict, cached: bool, speed: float = 1.0, factor: float = 1.0,
            strip_debug: bool = False) -> dict:
        profile = split_["profile"]
        b = build(split_, cached, factor) / speed
        fetch = artifacts_min(split_, a["cache_download_MBps"], factor) if cached else 0.0
        upload = 0.0 if cached else artifacts_min(split_, a["cache_upload_MBps"], factor)
        push = a["push_fixed_min"] + push_platform * push_share(profile, strip_debug)
        parts = {
            "nix_setup": a["nix_setup_min"],
            "deps_from_cache": fetch,
            "build": b,
            "deps_to_cache": upload,
            "image": a["image_assembly_min"],
            "push": push,
        }
        return {"parts_min": {k: round(v, 2) for k, v in parts.items()},
                "total_min": round(sum(parts.values()), 1)}

    out: dict = {"assumptions": a, "baseline_min": BASELINE,
                 "scale_user_workspace_in_demos": round(scale, 2),
                 "ratios_from": "CPU seconds, package-only split",
                 "dev_docheck_factor": round(docheck, 2) if docheck else None}
    rows: dict = {}
    for cached in (True, False):
        key = "cache hit" if cached else "cache miss"
        d = job(dev, cached)
        rows[f"dev, {key}"] = {"job": d, "parallel_jobs": 1,
                               "total_min": round(d["total_min"] + a["publish_min"], 1)}
        if cached and "binary_sizes" in dev:
            d1 = job(dev, cached, strip_debug=True)
            rows["dev, cache hit, debug info stripped from the image's binary"] = {
                "job": d1, "parallel_jobs": 1,
                "total_min": round(d1["total_min"] + a["publish_min"], 1)}
        if not cached and docheck:
            d2 = job(dev, cached, factor=docheck)
            rows["dev, cache miss, deps with doCheck (as nix/crate.nix)"] = {
                "job": d2, "parallel_jobs": 1,
                "total_min": round(d2["total_min"] + a["publish_min"], 1)}
        amd = job(rel, cached)
        arm = job(rel, cached, a["arm64_native_speed_factor"])
        rows[f"production, {key}"] = {
            "job": amd,
            "arm64_job": arm,
            "parallel_jobs": 2,
            # The two platform jobs run in parallel; publish waits for both.
            "total_min": round(max(amd["total_min"], arm["total_min"]) + a["publish_min"], 1),
        }
    out["rows"] = rows
    return out
