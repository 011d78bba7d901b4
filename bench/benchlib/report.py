"""results.json -> the Markdown tables BENCHMARKS.md is made of."""

from __future__ import annotations


def _s(x: float | None) -> str:
    return "n/a" if x is None else (f"{x:.1f} s" if x >= 1 else f"{x * 1000:.0f} ms")


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 1048576:.2f} MiB"


def _load(l: list[float]) -> str:
    return "/".join(f"{x:.2f}" for x in l)


def _build_cell(b: dict | None) -> str:
    if not b:
        return "not run (quick)"
    return (f"{_s(b['wall_s'])} wall, {_s(b['cpu_s'])} CPU (×{b['cpu_s'] / b['wall_s']:.2f}), "
            f"units {b['units_compiled']}, load {_load(b['load_before'])}")


def markdown(r: dict) -> str:
    out: list[str] = []
    m = r.get("machine", {})
    out.append(f"## ship benchmarks ({r.get('mode')} mode), {r.get('date_utc')}\n")
    out.append("| machine | |\n| --- | --- |")
    out.append(f"| CPU | {m.get('cpu')} ({m.get('nproc')} cores available), {m.get('mem_gib')} GiB |")
    rustc = (m.get("rustc") or "").splitlines()
    out.append(f"| toolchain | {rustc[0] if rustc else '?'}; {m.get('cargo')} |")
    out.append(f"| kernel | {m.get('kernel')} ({m.get('arch')}) |")
    out.append(f"| load avg 1/5/15 min | start {_load(m.get('load_at_start', []))}, end {_load(r.get('load_at_end', []))} |")
    if "wait_for_quiet" in r:
        w = r["wait_for_quiet"]
        out.append(f"| waited for load < {w['threshold']} | {w['waited_s']} s, reached: {w['reached']} |")
    out.append(f"| builds niced | {r.get('nice')} |")
    out.append(f"| commit | {r.get('git_rev', '')[:12]}{' + uncommitted changes' if r.get('git_dirty') else ''} ({r.get('source', '')}) |")
    out.append(f"| run took | {_s(r.get('duration_s'))} |")

    c = r.get("crates")
    if c:
        out.append(f"\n`demo-service` normal+build dependency graph on {c['host']}: "
                   f"{c['metadata_packages']} packages (cargo metadata), "
                   f"{c['cargo_tree_packages']} (cargo tree), the service included.\n")

    splits = r.get("dependency_split", [])
    if splits:
        out.append("### 1. Dependency caching (crane's split, plain cargo, `CARGO_BUILD_INCREMENTAL=false` as crane sets it)\n")
        out.append("| profile | cold full build | deps-only (dummy source) | real source on the deps | one-line change, rebuild | change / cold (wall) | change / cold (CPU) | deps artifacts (dir / zstd) |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for s in splits:
            ratio = s.get("ratio_source_change_to_cold") or {}
            art = s["deps_artifacts"]
            out.append(
                f"| {s['profile']} | {_build_cell(s.get('cold_full'))} | {_build_cell(s['deps_only'])} | "
                f"{_build_cell(s['app_on_deps'])} | {_build_cell(s['source_change'])} | "
                f"{ratio.get('wall', 'n/a')} | {ratio.get('cpu', 'n/a')} | "
                f"{_mib(art['bytes'])} / {_mib(art['zstd_bytes'])} |"
            )
        for s in splits:
            b = s.get("binary_sizes")
            if b:
                out.append(f"- {s['profile']} binary: {_mib(b['bytes'])} ({_mib(b['gzip_bytes'])} gzip); "
                           f"debug info stripped: {_mib(b['strip_debug_bytes'])} ({_mib(b['strip_debug_gzip_bytes'])} gzip)")
        edited = splits[0].get("edited")
        out.append(f"\nEdited line: `{edited}`; binary changed: "
                   + ", ".join(f"{s['profile']}={s['binary_changed']}" for s in splits) + ".\n")

    for c in r.get("crane") or []:
        prof = c["profile"]
        out.append(f"### 1b. crane's derivations, {prof} profile: its exact cargo commands, its artifact archives\n")
        out.append("Each derivation in its own copy of the target dir it inherits; `installs` is crane's "
                   "doInstallCargoArtifacts; the archive is installCargoArtifactsHook's target.tar.zst "
                   "(only the files the derivation wrote, when it inherited artifacts), measured even "
                   "where crane does not make it.\n")
        out.append("| layout | derivation | on | cargo commands | wall | CPU | units | installs | archive (zstd) | making it (CPU) |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for layout in ("before", "after"):
            for name, d in (c.get(layout) or {}).items():
                cmds = "<br>".join(f"`{st['command']}`" for st in d["steps"])
                ar = d["archive"]
                out.append(f"| {layout} | {name} | {d['inherits'] or '-'} | {cmds} | {_s(d['wall_s'])} | "
                           f"{_s(d['cpu_s'])} | {d['units_compiled']} | {'yes' if d['installs'] else 'no'} | "
                           f"{_mib(ar['zstd_bytes'])} | {_s(ar['cpu_s'])} |")
        if c.get("before") and c.get("after"):
            bd, ad = c["before"][f"deps-{prof}"], c["after"][f"deps-{prof}"]
            out.append(f"\n- deps-{prof}: {_s(bd['cpu_s'])} CPU, {_mib(bd['archive']['zstd_bytes'])} before; "
                       f"{_s(ad['cpu_s'])} CPU, {_mib(ad['archive']['zstd_bytes'])} after "
                       f"(**{ad['cpu_s'] / bd['cpu_s']:.2f}** of the CPU, "
                       f"**{ad['archive']['zstd_bytes'] / bd['archive']['zstd_bytes']:.2f}** of the archive).")
            if "deps-checks" in c["after"]:
                def tot(layout: str, key: str) -> float:
                    return sum(d["cpu_s"] if key == "cpu" else
                               (d["archive"]["zstd_bytes"] if d["installs"] else 0)
                               for d in c[layout].values())
                leaves = [d for n, d in c["before"].items() if n.startswith("checks.")]
                out.append(f"- Leaf archives (clippy, tests) before: "
                           f"{_mib(sum(d['archive']['zstd_bytes'] for d in leaves))}, "
                           f"{_s(sum(d['archive']['cpu_s'] for d in leaves))} CPU to make; after: none.")
                out.append(f"- All derivations of the profile: {_s(tot('before', 'cpu'))} CPU, "
                           f"{_mib(tot('before', 'size'))} installed before; {_s(tot('after', 'cpu'))} CPU, "
                           f"{_mib(tot('after', 'size'))} installed after.")
        out.append("")

    for b in r.get("builders") or []:
        out.append(f"### 1c. crane's and naersk's dependency split, {b['profile']} profile ({b['subject']})\n")
        out.append("crane: part 1b's `after` deps and app derivations (crane's commands, the app on a copy of "
                   "the deps' target dir, `CARGO_BUILD_INCREMENTAL=false`). naersk: its dummy source (every "
                   "Cargo.toml without targets, a stub `build.rs` and `src/lib.rs` beside each), its one deps "
                   "command, its `target.tar.zst` (whole target dir, `zstd` defaults), unpacked under the real "
                   "source for its top-level command. Measured one right after the other; \"deps\" counts the "
                   "registry packages among those compiled.\n")
        out.append("| builder | step | cargo command | wall | CPU | packages compiled | deps among them | load before |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name in ("crane", "naersk"):
            d = b[name]
            for step in ("deps", "app"):
                for st in (d[step]["steps"] if name == "crane" else [d[step]]):
                    out.append(f"| {name} | {step} | `{st['command']}` | {_s(st['wall_s'])} | {_s(st['cpu_s'])} | "
                               f"{st['units_compiled']} | {st['deps_compiled']} | {_load(st['load_before'])} |")
        ca, na = b["crane"]["deps"]["archive"], b["naersk"]["archive"]
        out.append(f"\n- deps archive: crane {_mib(ca['zstd_bytes'])} (`zstd -T<cores>`, {_s(ca['wall_s'])} wall, "
                   f"{_s(ca['cpu_s'])} CPU to make); naersk {_mib(na['zstd_bytes'])} (`zstd`, {_s(na['wall_s'])} wall, "
                   f"{_s(na['cpu_s'])} CPU to make; unpacking it, with the imitation's one-mtime pass, "
                   f"{_s(b['naersk']['unpack']['wall_s'])} wall, {_s(b['naersk']['unpack']['cpu_s'])} CPU); target dir {_mib(b['crane']['deps']['target_bytes'])} "
                   f"/ {_mib(b['naersk']['target_bytes'])}.")
        cd, nd = b["crane"]["deps"], b["naersk"]["deps"]
        cp_, np_ = b["crane"]["app"], b["naersk"]["app"]
        out.append(f"- naersk / crane: deps step {nd['cpu_s'] / cd['cpu_s']:.2f} CPU, "
                   f"{nd['wall_s'] / cd['wall_s']:.2f} wall; app step {np_['cpu_s'] / cp_['cpu_s']:.2f} CPU; "
                   f"archive {na['zstd_bytes'] / ca['zstd_bytes']:.2f}.\n")

    rp = r.get("release_profile")
    if rp:
        out.append(f"### 2. Release profile ({rp['subject']})\n")
        p, d = rp["planned"], rp["default"]
        out.append("| build | cold build wall | CPU | binary | vs planned |")
        out.append("| --- | --- | --- | --- | --- |")
        pb = p["binary_bytes"]
        out.append(f"| planned `[profile.release]` (z, thin LTO, 1 CGU, strip, abort) | {_s(p['wall_s'])} | {_s(p['cpu_s'])} | {_mib(pb)} ({pb} B) | 1.00 |")
        out.append(f"| cargo default release (3, no LTO, 16 CGUs, strip debuginfo, unwind) | {_s(d['wall_s'])} | {_s(d['cpu_s'])} | {_mib(d['binary_bytes'])} | {d['binary_bytes'] / pb:.2f} |")
        out.append(f"| cargo default release, then `strip --strip-all` | | | {_mib(d['binary_bytes_strip_all'])} | {d['binary_bytes_strip_all'] / pb:.2f} |")
        for name, a in rp.get("one_setting_reverted", {}).items():
            out.append(f"| planned, but {name} | {_s(a['wall_s'])} | {_s(a['cpu_s'])} | {_mib(a['binary_bytes'])} | {a['size_vs_planned']:.2f} |")
        t = rp["time_ratio_planned_to_default"]
        out.append(f"\nPlanned / default size: {rp['size_ratio_planned_to_default']} "
                   f"({(1 - rp['size_ratio_planned_to_default']) * 100:.1f}% smaller); planned / "
                   f"default-then-stripped: {rp['size_ratio_planned_to_default_stripped']} "
                   f"({(1 - rp['size_ratio_planned_to_default_stripped']) * 100:.1f}% smaller). "
                   f"Build time planned / default: {t['wall']} wall, {t['cpu']} CPU.\n")

    for push in r.get("push") or []:
        prof = push["image_profile"]
        out.append(f"### 3. Push, {prof} image (imitation of streamLayeredImage; local registry; fresh client each time; `ship` {r.get('ship_profile')} build)\n")
        imgs = r.get("images", {}).get(prof, {})
        first = {l["diff_id"] for l in next(iter(imgs.values()))["layers"]} if imgs else set()
        for i, (label, info) in enumerate(imgs.items()):
            layers = ", ".join(
                f"{l['label'].split('-', 1)[-1] if l['label'].startswith('nix/') else l['label']} {_mib(l['bytes'])}"
                + (" (changed)" if i and l["diff_id"] not in first else "")
                for l in info["layers"])
            bb = info.get("binary_bytes") or {}
            out.append(f"- image {label}: docker-archive {_mib(info['archive_bytes'])}; binary "
                       f"{_mib(bb.get('cargo'))} from cargo, {_mib(bb.get('after_stdenv_strip'))} after "
                       f"stdenv's `strip -S -p`; layers (uncompressed): {layers}")
        out.append("\n| push | wall | CPU | bytes sent (wire) | ship says uploaded / skipped | new blobs stored (manifest included) | image (compressed) | sent / image |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for p_ in push["pushes"]:
            sr = p_.get("ship_reported", {})
            out.append(f"| {p_['label']} | {_s(p_['wall_s'])} | {_s(p_['cpu_s'])} | {p_['bytes_sent_on_wire']} ({_mib(p_['bytes_sent_on_wire'])}) | "
                       f"{sr.get('layers_uploaded')} layers {_mib(sr.get('bytes_uploaded'))} / {sr.get('layers_skipped')} layers {_mib(sr.get('bytes_skipped'))} | "
                       f"{p_['new_blobs_stored']} ({_mib(p_['new_blob_bytes_stored'])}) | {_mib(p_['image_bytes_compressed'])} | "
                       f"{p_['uploaded_fraction_of_image']} |")
        out.append("")

    h = r.get("helper")
    if h:
        out.append(f"### 4. Helper overhead (`ship`, {r.get('ship_profile')} build)\n")
        out.append("| command | runs | min | median | max |\n| --- | --- | --- | --- | --- |")
        pl = h["plan"]
        out.append(f"| `ship plan --format json` | {pl['runs']} | {_s(pl['min_s'])} | {_s(pl['median_s'])} | {_s(pl['max_s'])} |")
        rd = h.get("release_dry_run")
        if isinstance(rd, dict):
            out.append(f"| `ship release --dry-run` (production, Nix 2.8 fixture flake, evaluation included) | {rd['runs']} | {_s(rd['min_s'])} | {_s(rd['median_s'])} | {_s(rd['max_s'])} |")
        else:
            out.append(f"| `ship release --dry-run` | {rd} | | | |")
        out.append("")

    mo = r.get("model")
    if mo:
        out.append("### 5. Expected CI wall time, minutes (ESTIMATED from the ratios above and the assumptions)\n")
        out.append("Build steps: the user's 22-min amd64 Docker build is taken as a cold release build and "
                   "multiplied by each step's CPU-time ratio to this run's cold release build of the demo "
                   "(package-only split). Artifact transfers: the user's workspace counts as "
                   f"{mo['scale_user_workspace_in_demos']} demos. Rows marked (before) and the checks "
                   "job apply part 1b's factors over the build-only deps derivation (CPU, archive size): "
                   + ", ".join(f"{k} {v['cpu']}/{v['size']}" for k, v in (mo.get("crane_factors") or {}).items())
                   + ".\n")
        out.append("| variant, path | jobs | nix setup | deps from cache | build | deps to cache | image | push | publish | total |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, v in mo["rows"].items():
            j = v["job"]["parts_min"]
            publish = mo["assumptions"]["publish_min"] if name.split(",")[0] != "checks job" else 0.0
            out.append(f"| {name} | {'amd64' if v['parallel_jobs'] == 1 else 'amd64 ∥ arm64'} | "
                       f"{j['nix_setup']} | {j['deps_from_cache']} | {j['build']} | {j['deps_to_cache']} | "
                       f"{j['image']} | {j['push']} | {publish} | **{v['total_min']}** |")
        b = mo["baseline_min"]
        out.append(f"\nBaseline (the user's Docker CI): arm64 under QEMU {b['arm64_qemu']} + amd64 {b['amd64']} "
                   f"+ push {b['push']} = {b['total']} min. Assumptions: "
                   + ", ".join(f"`{k}` = {v}" for k, v in mo["assumptions"].items()) + ".\n")
    elif r.get("mode") == "quick":
        out.append("### 5. Model\n\nNot computed in quick mode (it needs the cold builds of the full mode).\n")
    return "\n".join(out)
