"""Part 1b: the derivations nix/crate.nix and nix/checks.nix make crane build, imitated with
crane's own cargo command sequences and measured with crane's own artifact archives.

Sources (ipetkov/crane v0.23.4 = 10e6e3cb966f7cfcc789fe5eee7a85f3188ce08b, the flake.lock pin):
- lib/buildDepsOnly.nix: `${cargoCheckCommand} ${cargoExtraArgs} ${cargoCheckExtraArgs}` then
  `${cargoBuildCommand} ${cargoExtraArgs} ${cargoBuildExtraArgs}` (the check pass always, with
  `--all-targets` when doCheck), then with doCheck `cargo test ... --no-run`; buildPhaseCargoCommand
  replaces the first two. It always installs its artifacts and never inherits any.
- lib/buildPackage.nix: `cargoWithProfile build --message-format json-render-diagnostics
  ${cargoExtraArgs} ${cargoBuildExtraArgs}`; installs no artifacts unless asked.
- lib/cargoClippy.nix, lib/cargoTest.nix: `cargoWithProfile clippy|test ${cargoExtraArgs} ...`;
  both install their artifacts unless doInstallCargoArtifacts = false (mkCargoDerivation's default).
- lib/setupHooks/cargoHelperFunctionsHook.sh: cargoWithProfile puts `--release` (CARGO_PROFILE
  "release") or `--profile P` right after the subcommand.
- lib/setupHooks/configureCargoCommonVarsHook.sh: CARGO_BUILD_INCREMENTAL=false.
- lib/setupHooks/installCargoArtifactsHook.sh: `tar --sort=name --mtime=@1 --owner=0 --group=0
  --mode=u+w --numeric-owner --pax-option=... -c | zstd -T$NIX_BUILD_CORES` of the target dir into
  $out/target.tar.zst; a derivation that inherited artifacts archives only the files newer than
  its SOURCE_DATE_EPOCH marker (those its own commands wrote) and links the previous archive.

Each derivation runs in its own target dir, a copy of the one it inherits (`cp -a` keeps the
mtimes, so the inherited files are older than the derivation's marker, as unpacked ones are in
Nix). Vendored sources are replaced by `--offline` on the already fetched registry. The tests are
compiled (`--no-run` added): running them is not what this part compares.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from .builds import clean_env, compressed_size, copy_real, write_dummy
from .measure import dir_size, log, run

# nix/crate.nix commonArgs.cargoExtraArgs.
EXTRA = "--locked --workspace"
# nix/checks.nix.
CLIPPY_EXTRA = "--all-targets -- --deny warnings"


def test_args(tests: dict) -> str:
    """checks.tests' cargoTestExtraArgs from a `[workspace.metadata.ship.tests]` table, as
    nix/lib/test-args.nix writes them: `lib` -> --lib, `test:http` -> --test http, then
    `-- --skip NAME` for each skipped test."""
    words = []
    for target in tests.get("targets", []):
        kind, _, name = target.partition(":")
        words += [f"--{kind}", name] if name else [f"--{kind}"]
    skips = [w for name in tests.get("skip", []) for w in ("--skip", name)]
    return " ".join(words + (["--"] + skips if skips else []))


# This repository's tests key (Cargo.toml), what its checks.tests runs.
TEST_EXTRA = test_args(
    tomllib.loads((Path(__file__).resolve().parents[2] / "Cargo.toml").read_text(encoding="utf-8"))
    .get("workspace", {}).get("metadata", {}).get("ship", {}).get("tests", {})
)


def _drv(inherits: str | None, commands: list[str], installs: bool, source: str) -> dict:
    return {"inherits": inherits, "commands": commands, "installs": installs, "source": source}


def layouts(profile: str, binary: str) -> dict[str, dict[str, dict]]:
    """layout -> derivation -> what crane runs for it. `before`: nix/crate.nix with crane's
    defaults (one deps derivation, doCheck for dev, checks installing artifacts); `after`: the
    image's deps `cargo build` only, the checks' deps on top of them, leaves installing nothing.
    Commands are in cargoWithProfile's spelling (`cargo SUB <profile> ...` when run)."""
    app = _drv(f"deps-{profile}",
               [f"build --message-format json-render-diagnostics {EXTRA} --bin {binary}"],
               False, "real")
    if profile != "dev":
        return {
            "before": {
                f"deps-{profile}": _drv(None, [f"check {EXTRA}", f"build {EXTRA}"], True, "dummy"),
                f"app-{profile}": app,
            },
            "after": {
                f"deps-{profile}": _drv(None, [f"build {EXTRA}"], True, "dummy"),
                f"app-{profile}": app,
            },
        }
    clippy = f"clippy {EXTRA} {CLIPPY_EXTRA}"
    tests = f"test {EXTRA} {TEST_EXTRA} --no-run"
    return {
        "before": {
            "deps-dev": _drv(None, [f"check {EXTRA} --all-targets", f"build {EXTRA}",
                                    f"test {EXTRA} --no-run"], True, "dummy"),
            "app-dev": app,
            "checks.clippy": _drv("deps-dev", [clippy], True, "real"),
            "checks.tests": _drv("deps-dev", [tests], True, "real"),
        },
        "after": {
            "deps-dev": _drv(None, [f"build {EXTRA}"], True, "dummy"),
            "deps-checks": _drv("deps-dev", [f"check {EXTRA} --all-targets",
                                             f"test {EXTRA} --no-run"], True, "dummy"),
            "app-dev": app,
            "checks.clippy": _drv("deps-checks", [clippy], False, "real"),
            "checks.tests": _drv("deps-checks", [tests], False, "real"),
        },
    }


def cargo_argv(command: str, profile: str) -> list[str]:
    """cargoWithProfile: the profile right after the subcommand; `--offline` in place of crane's
    vendored sources."""
    sub, *rest = command.split()
    prof = ["--release"] if profile == "release" else ["--profile", profile]
    # `--` ends cargo's options (clippy's lints follow): --offline must come before it.
    if "--" in rest:
        i = rest.index("--")
        rest = rest[:i] + ["--offline"] + rest[i:]
    else:
        rest = rest + ["--offline"]
    return ["cargo", sub, *prof, *rest]


_UNIT = re.compile(r"^\s*(Compiling|Checking) ", re.M)
# cargo's status line names a path or git package's source after its version, a registry
# package's not: `Compiling demo-service v0.1.0 (/src)` vs `Compiling serde v1.0.219`.
_DEP_UNIT = re.compile(r"^\s*(Compiling|Checking) \S+ v\S+$", re.M)


def count_units(stderr: str) -> tuple[int, int]:
    """Packages cargo compiled (or checked), and how many of them are registry dependencies."""
    return len(_UNIT.findall(stderr)), len(_DEP_UNIT.findall(stderr))


def run_layout(src: Path, files: list[str], tmp: Path, *, profile: str, layout: str,
               drvs: dict[str, dict], nice: int, log_to: Path) -> dict:
    # One directory, as crane unpacks every derivation's source to the same build directory:
    # cargo's fingerprints of workspace members include their path. The dummy-source derivations
    # come first; the real source is then copied over the dummy (fresh mtimes, so build scripts
    # and workspace crates rebuild, as in a package derivation).
    sources = [d["source"] for d in drvs.values()]
    if sources != sorted(sources, key=lambda x: x != "dummy"):
        raise ValueError(f"crane {profile} {layout}: dummy-source derivations must come first")
    ws = tmp / f"ws-crane-{profile}-{layout}"
    write_dummy(src, files, ws)
    real = False
    targets: dict[str, Path] = {}
    out: dict = {}
    for name, d in drvs.items():
        if d["source"] == "real" and not real:
            copy_real(src, files, ws)
            real = True
        target = tmp / f"target-crane-{profile}-{layout}-{name}"
        if d["inherits"]:
            subprocess.run(["cp", "-a", str(targets[d["inherits"]]), str(target)], check=True)
        else:
            target.mkdir(parents=True)
        marker = tmp / f"marker-{profile}-{layout}-{name}"
        marker.touch()
        steps = []
        for c in d["commands"]:
            argv = cargo_argv(c, profile)
            log(f"[crane {profile} {layout}] {name}: {' '.join(argv)}")
            t = run(argv, cwd=ws, env=clean_env(target), nice=nice, log_to=log_to)
            units, deps = count_units(t.stderr)
            steps.append({"command": " ".join(argv), "wall_s": round(t.wall_s, 3),
                          "cpu_s": round(t.cpu_s, 3), "units_compiled": units,
                          "deps_compiled": deps, "load_before": t.load_before})
        res = {**d, "steps": steps,
               "wall_s": round(sum(s["wall_s"] for s in steps), 3),
               "cpu_s": round(sum(s["cpu_s"] for s in steps), 3),
               "units_compiled": sum(s["units_compiled"] for s in steps),
               "deps_compiled": sum(s["deps_compiled"] for s in steps)}
        # What the derivation's archive is or would be; `installs` says whether crane makes it.
        res["archive"] = compressed_size(target, nice, marker if d["inherits"] else None)
        if not d["inherits"]:
            res["target_bytes"] = dir_size(target)
        targets[name] = target
        out[name] = res
    for t in targets.values():
        shutil.rmtree(t, ignore_errors=True)
    shutil.rmtree(ws, ignore_errors=True)
    return out


def crane_split(src: Path, files: list[str], tmp: Path, *, profile: str, binary: str, nice: int,
                log_to: Path, which: tuple[str, ...] = ("before", "after")) -> dict:
    """Both layouts of one profile, each derivation measured (commands, CPU, archive)."""
    res: dict = {"profile": profile}
    for layout, drvs in layouts(profile, binary).items():
        if layout in which:
            res[layout] = run_layout(src, files, tmp, profile=profile, layout=layout, drvs=drvs,
                                     nice=nice, log_to=log_to)
    return res
