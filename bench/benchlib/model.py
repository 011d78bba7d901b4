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


def _crane_factors(results: dict) -> dict | None:
    """CPU and archive-size factors of crane's derivations (part 1b), each over the build-only
    deps derivation of its profile: how much more a layout's derivations cost than `cargo build`
    of the dependencies alone. Applied to the package-only split, which stands for the user's
    workspace (the flake's workspace also builds `ship`'s dependencies)."""
    crane = {c["profile"]: c for c in results.get("crane") or []}
    if not all(p in crane and "before" in crane[p] and "after" in crane[p]
               for p in ("dev", "release")):
        return None

    def f(profile: str, layout: str, names: list[str]) -> dict:
        drvs = crane[profile][layout]
        base = crane[profile]["after"][f"deps-{profile}"]
        missing = [n for n in names if n not in drvs]
        if missing:
            raise KeyError(f"crane {profile} {layout}: no derivation {missing}")
        return {
            "cpu": sum(drvs[n]["cpu_s"] for n in names) / base["cpu_s"],
            # What the cache stores: the archives crane installs (a leaf's only if it installs).
            "size": sum(drvs[n]["archive"]["zstd_bytes"] for n in names if drvs[n]["installs"])
            / base["archive"]["zstd_bytes"],
        }

    return {
        "release_deps_before": f("release", "before", ["deps-release"]),
        "dev_deps_before": f("dev", "before", ["deps-dev"]),
        "checks_before": f("dev", "before", ["deps-dev", "checks.clippy", "checks.tests"]),
        "checks_after": f("dev", "after", ["deps-dev", "deps-checks", "checks.clippy",
                                           "checks.tests"]),
    }


def estimate(results: dict, assume: dict[str, float]) -> dict | None:
    """Estimated CI wall minutes for the dev and production variants, cache hit and miss, and
    the checks job on a miss; rows marked (before) are nix/crate.nix with crane's defaults (one
    deps derivation with a check pass, doCheck for dev, checks installing artifacts)."""
    split = {s["profile"]: s for s in results.get("dependency_split", [])}
    dev, rel = split.get("dev"), split.get("release")
    if not dev or not rel or "cold_full" not in dev or "cold_full" not in rel:
        return None  # quick mode: no cold builds, no model
    pushes = {c["image_profile"]: c["pushes"] for c in results.get("push") or []}
    if len(pushes.get("dev", [])) < 3 or len(pushes.get("release", [])) < 3:
        return None
    a = {**ASSUMPTIONS, **assume}
    factors = _crane_factors(results)

    # CPU seconds, not wall: the machine is shared, and other builds stretch wall times by a
    # varying factor, while CPU time (the work cargo did) stays put from run to run.
    rel_cold_cpu = rel["cold_full"]["cpu_s"]
    base = BASELINE["amd64"] * a["baseline_amd64_is_cold_release"]

    # The user's cold release build is `base` minutes; every build step is that times its CPU
    # ratio to this run's cold release build of the demo.
    def build(split_: dict, cached: bool, cpu_factor: float, app: bool = True) -> float:
        if cached:
            return base * split_["source_change"]["cpu_s"] / rel_cold_cpu
        deps = split_["deps_only"]["cpu_s"] * cpu_factor
        return base * (deps + (split_["app_on_deps"]["cpu_s"] if app else 0.0)) / rel_cold_cpu

    # Size of the user's workspace in demos: their cold build minutes over the demo's, taking
    # the demo's uncontended wall time as its CPU time spread over every core.
    demo_min = _m(rel_cold_cpu / results["machine"]["nproc"])
    scale = base / demo_min

    def artifacts_min(split_: dict, mbps: float, size_factor: float) -> float:
        # The package-only deps archive (made as crane makes it) times the layout's size factor.
        mb = split_["deps_artifacts"]["zstd_bytes"] / 1e6 * size_factor
        return mb * scale * a["artifacts_scale_with_build_time"] / mbps / 60.0

    # The baseline's images are release builds; a dev image is scaled by its compressed size
    # over the release image's as well. Both binaries are as stdenv's fixupPhase strips them.
    rel_image = pushes["release"][0]["image_bytes_compressed"]

    # Every CI run pushes onto a registry that has the previous release, so a run, cache hit or
    # miss (a Cargo.lock change alters only the binary too), costs the source-change push; the
    # first push of all (everything uploaded) happens once per repository.
    def push_share(profile: str) -> float:
        return pushes[profile][2]["bytes_sent_on_wire"] / rel_image

    push_platform = BASELINE["push"] * a["baseline_push_share_per_platform"]

    def job(split_: dict, cached: bool, speed: float = 1.0, cpu: float = 1.0,
            size: float = 1.0, image: bool = True) -> dict:
        profile = split_["profile"]
        b = build(split_, cached, cpu, app=image) / speed
        fetch = artifacts_min(split_, a["cache_download_MBps"], size) if cached else 0.0
        upload = 0.0 if cached else artifacts_min(split_, a["cache_upload_MBps"], size)
        push = a["push_fixed_min"] + push_platform * push_share(profile) if image else 0.0
        parts = {
            "nix_setup": a["nix_setup_min"],
            "deps_from_cache": fetch,
            "build": b,
            "deps_to_cache": upload,
            "image": a["image_assembly_min"] if image else 0.0,
            "push": push,
        }
        return {"parts_min": {k: round(v, 2) for k, v in parts.items()},
                "total_min": round(sum(parts.values()), 1)}

    def one(j: dict, publish: bool = True) -> dict:
        return {"job": j, "parallel_jobs": 1,
                "total_min": round(j["total_min"] + (a["publish_min"] if publish else 0.0), 1)}

    def both(amd: dict, arm: dict) -> dict:
        # The two platform jobs run in parallel; publish waits for both.
        return {"job": amd, "arm64_job": arm, "parallel_jobs": 2,
                "total_min": round(max(amd["total_min"], arm["total_min"]) + a["publish_min"], 1)}

    out: dict = {"assumptions": a, "baseline_min": BASELINE,
                 "scale_user_workspace_in_demos": round(scale, 2),
                 "ratios_from": "CPU seconds, package-only split; crane factors from part 1b",
                 "crane_factors": None if factors is None else
                 {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in factors.items()}}
    rows: dict = {}
    arm_speed = a["arm64_native_speed_factor"]
    for cached in (True, False):
        key = "cache hit" if cached else "cache miss"
        rows[f"dev, {key}"] = one(job(dev, cached))
        if factors:
            d = factors["dev_deps_before"]
            rows[f"dev, {key} (before: one deps derivation with doCheck)"] = one(
                job(dev, cached, cpu=d["cpu"], size=d["size"]))
        rows[f"production, {key}"] = both(job(rel, cached), job(rel, cached, arm_speed))
        if factors:
            r = factors["release_deps_before"]
            rows[f"production, {key} (before: deps with crane's check pass)"] = both(
                job(rel, cached, cpu=r["cpu"], size=r["size"]),
                job(rel, cached, arm_speed, cpu=r["cpu"], size=r["size"]))
    if factors:
        # `nix flake check` after a Cargo.lock change: every derivation the checks need, built
        # and pushed by that job (cachix-action pushes what it built); no image, no publish.
        for label, fk in (("checks job, cache miss", "checks_after"),
                          ("checks job, cache miss (before)", "checks_before")):
            c = factors[fk]
            rows[label] = one(job(dev, False, cpu=c["cpu"], size=c["size"], image=False),
                              publish=False)
    out["rows"] = rows
    return out
