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
    pushes = results.get("push", {}).get("pushes", [])
    if len(pushes) < 3:
        return None
    a = {**ASSUMPTIONS, **assume}
    # Prefer the flake's own cargo commands (what CI runs) where the run measured them.
    flake = {s["profile"]: s for s in results.get("flake_split", [])}
    dev_ci, rel_ci = flake.get("dev", dev), flake.get("release", rel)

    rel_cold = rel["cold_full"]["wall_s"]
    dev_cold = dev["cold_full"]["wall_s"]
    base = BASELINE["amd64"] * a["baseline_amd64_is_cold_release"]
    # Everything is scaled from the user's cold release build by ratios measured side by side.
    scale = base / _m(rel_cold)  # user's workspace minutes per demo minute on this machine

    def build(split_: dict, cached: bool) -> float:
        if cached:
            return _m(split_["source_change"]["wall_s"]) * scale
        return _m(split_["deps_only"]["wall_s"] + split_["app_on_deps"]["wall_s"]) * scale

    def artifacts_min(split_: dict, mbps: float) -> float:
        mb = split_["deps_artifacts"]["zstd_bytes"] / 1e6
        return mb * scale * a["artifacts_scale_with_build_time"] / mbps / 60.0

    frac_change = pushes[2]["uploaded_fraction_of_image"]
    frac_first = pushes[0]["uploaded_fraction_of_image"]
    push_platform = BASELINE["push"] * a["baseline_push_share_per_platform"]

    def job(split_: dict, cached: bool, speed: float = 1.0) -> dict:
        b = build(split_, cached) / speed
        fetch = artifacts_min(split_, a["cache_download_MBps"]) if cached else 0.0
        upload = 0.0 if cached else artifacts_min(split_, a["cache_upload_MBps"])
        push = a["push_fixed_min"] + push_platform * (frac_change if cached else frac_first)
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
                 "split_used": "flake commands" if flake else "package only",
                 "scale_user_min_per_demo_min": round(scale, 3)}
    for cached in (True, False):
        key = "cache_hit" if cached else "cache_miss"
        d = job(dev_ci, cached)
        amd = job(rel_ci, cached)
        arm = job(rel_ci, cached, a["arm64_native_speed_factor"])
        out[f"dev_{key}"] = {"amd64": d, "total_min": round(d["total_min"] + a["publish_min"], 1)}
        out[f"production_{key}"] = {
            "amd64": amd,
            "arm64_native": arm,
            # The two platform jobs run in parallel; publish waits for both.
            "total_min": round(max(amd["total_min"], arm["total_min"]) + a["publish_min"], 1),
        }
    return out
