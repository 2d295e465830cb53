"""Delta artifacts on real images: medfleet against bsdiff4, xdelta3 and zstd, in one run.

Downloads two releases of a wheel with native code (pip, cached in a temporary directory),
unpacks each and re-packs it as an uncompressed tar with sorted names, zero mtimes and owners:
two realistic, reproducible file-system images. Then, on that pair:

- medfleet: ``build_delta`` through a ``BlobStore`` (bsdiff4 under the size limit, else zstd
  patch-from; includes the reconstruction check), and the other method too, for reference;
- ``bsdiff4.file_diff``, ``xdelta3 -9 -e -s``, ``zstd -19 --long=27 --patch-from``;
- the full image with ``zstd -19 --long=27`` (what a device downloads without a delta);
- the agent applying each medfleet delta in a child process: its peak resident memory
  (``ru_maxrss`` of that child, via ``os.wait4``, the per-child form of ``RUSAGE_CHILDREN``)
  next to a baseline child that imports the same modules and does nothing. The children are
  started by a small launcher process: Linux would otherwise carry this process's own peak
  RSS into the children's figures.

Progress goes to stderr; the last stdout line is one JSON object.

    python bench/delta.py            # numpy 2.1.2 -> 2.1.3 (two ~56 MB images)
    python bench/delta.py --quick    # pydantic-core 2.23.3 -> 2.23.4 (two ~5 MB images)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import bsdiff4

from medfleet.agent.contract import DeltaMethod
from medfleet.agent.patching import BSDIFF_LIMIT, apply_delta
from medfleet.releases.blobs import BlobStore
from medfleet.releases.deltas import DeltaArtifact, build_delta

FULL = ("numpy", "2.1.2", "2.1.3")
QUICK = ("pydantic-core", "2.23.3", "2.23.4")
GOAL_RATIO_TO_BEST = 1.5
GOAL_SAVINGS_VS_FULL = 0.95


def log(message: str) -> None:
    """Progress for the human watching; stdout is kept for the JSON result."""
    print(f"[bench/delta] {message}", file=sys.stderr, flush=True)


def ensure_tools() -> None:
    """Install xdelta3 and zstd with apt-get when they are missing."""
    if shutil.which("xdelta3") and shutil.which("zstd"):
        return
    log("installing xdelta3 and zstd with apt-get")
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "xdelta3", "zstd"],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def fetch_wheel(package: str, version: str, cache: Path) -> Path:
    """The wheel of ``package==version`` for this interpreter, downloaded once into ``cache``."""
    directory = cache / f"{package}-{version}"
    wheels = sorted(directory.glob("*.whl"))
    if not wheels:
        log(f"downloading {package}=={version}")
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--only-binary=:all:", f"{package}=={version}", "-d", str(directory)),
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        wheels = sorted(directory.glob("*.whl"))
    return wheels[0]


def wheel_to_image(wheel: Path, image: Path) -> None:
    """Re-pack a wheel as an uncompressed tar: sorted names, zero mtimes and owners."""
    with (
        zipfile.ZipFile(wheel) as archive,
        tarfile.open(image, "w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for entry in sorted(archive.infolist(), key=lambda e: e.filename):
            if entry.is_dir():
                continue
            data = archive.read(entry)
            member = tarfile.TarInfo(entry.filename)
            member.size, member.mtime, member.uid, member.gid = len(data), 0, 0, 0
            member.mode = 0o755 if (entry.external_attr >> 16) & 0o111 else 0o644
            tar.addfile(member, io.BytesIO(data))


def timed_command(command: list[str], output: Path) -> tuple[int, float]:
    """Run a tool; return the size of what it wrote and the seconds it took."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return output.stat().st_size, time.perf_counter() - started


# Linux carries the parent's peak RSS into a child's ru_maxrss across fork and exec, so the
# apply children are started by this small launcher, itself started before the bench grows.
LAUNCHER = r"""
import json, os, subprocess, sys
for line in sys.stdin:
    child = subprocess.Popen(json.loads(line))
    _pid, status, usage = os.wait4(child.pid, 0)
    print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]), flush=True)
"""


class ChildLauncher:
    """Runs commands in children of a small process; reports each child's peak RSS."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def peak_mb(self, arguments: list[str]) -> tuple[float, float]:
        """Run this script with ``arguments`` as a child: (peak resident MB, seconds)."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        started = time.perf_counter()
        self._process.stdin.write(json.dumps([sys.executable, __file__, *arguments]) + "\n")
        self._process.stdin.flush()
        exit_code, max_rss_kib = json.loads(self._process.stdout.readline())
        if exit_code != 0:
            raise SystemExit(f"child {arguments[:2]} failed with {exit_code}")
        return max_rss_kib / 1024, time.perf_counter() - started

    def close(self) -> None:
        """Stop the launcher."""
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait()


def apply_child(arguments: list[str]) -> None:
    """In the child: apply one delta as the agent does (or, for the baseline, nothing).

    Both import the same modules (this script's), so the difference is the work itself.
    """
    if arguments[0] == "baseline":
        return
    old, delta, out, sha256, length = arguments
    apply_delta(Path(old), Path(delta), Path(out), sha256, int(length))


def measure_apply(
    launcher: ChildLauncher, store: BlobStore, artifact: DeltaArtifact, work: Path
) -> dict[str, float]:
    """Peak memory and time of the agent applying ``artifact`` in a child process."""
    out = work / f"applied-{artifact.method}"
    arguments = [
        "--apply-child",
        str(store.path_of(artifact.from_sha256)),
        str(store.path_of(artifact.delta.sha256)),
        str(out),
        artifact.to_sha256,
        str(artifact.to_length),
    ]
    peak, seconds = launcher.peak_mb(arguments)
    baseline, _ = launcher.peak_mb(["--apply-child", "baseline"])
    out.unlink()
    return {"peak_mb": round(peak, 1), "baseline_mb": round(baseline, 1), "seconds": seconds}


def measure_other_tools(old: Path, new: Path, work: Path) -> dict[str, tuple[int, float]]:
    """Delta size and seconds of bsdiff4, xdelta3 and zstd --patch-from on the same pair."""
    others: dict[str, tuple[int, float]] = {}
    started = time.perf_counter()
    bsdiff4.file_diff(str(old), str(new), str(work / "bsdiff4.out"))
    others["bsdiff4"] = ((work / "bsdiff4.out").stat().st_size, time.perf_counter() - started)
    others["xdelta3"] = timed_command(
        ["xdelta3", "-9", "-e", "-f", "-s", str(old), str(new), str(work / "xdelta3.out")],
        work / "xdelta3.out",
    )
    others["zstd_patch_from"] = timed_command(
        [
            *("zstd", "-q", "-f", "-19", "--long=27", f"--patch-from={old}", str(new)),
            *("-o", str(work / "zstd-pf.out")),
        ],
        work / "zstd-pf.out",
    )
    for tool, (size, seconds) in others.items():
        log(f"{tool}: {size:,} bytes in {seconds:.1f} s")
    return others


def run(
    launcher: ChildLauncher,
    package: str,
    old_version: str,
    new_version: str,
    cache: Path,
    bsdiff_limit: int,
) -> dict[str, object]:
    """Build the images, measure every tool on them, and return the figures."""
    with tempfile.TemporaryDirectory(prefix="medfleet-bench-delta-") as directory:
        work = Path(directory)
        old, new = work / f"{old_version}.tar", work / f"{new_version}.tar"
        wheel_to_image(fetch_wheel(package, old_version, cache), old)
        wheel_to_image(fetch_wheel(package, new_version, cache), new)
        log(f"images: {old.stat().st_size:,} and {new.stat().st_size:,} bytes")

        store = BlobStore(work / "blobs")
        old_info, new_info = store.put_file(old), store.put_file(new)
        started = time.perf_counter()
        medfleet = build_delta(store, old_info.sha256, new_info.sha256, bsdiff_limit=bsdiff_limit)
        medfleet_build_s = time.perf_counter() - started
        log(f"medfleet {medfleet.method}: {medfleet.delta.length:,} B, {medfleet_build_s:.1f} s")
        other_method: DeltaMethod = "zstd-patch-from" if medfleet.method == "bsdiff4" else "bsdiff4"
        started = time.perf_counter()
        alternative = build_delta(
            store,
            old_info.sha256,
            new_info.sha256,
            method=other_method,
            bsdiff_limit=max(bsdiff_limit, old_info.length, new_info.length),
            compare_with_full=False,
        )
        alternative_build_s = time.perf_counter() - started
        log(f"medfleet {other_method}: {alternative.delta.length:,} B, {alternative_build_s:.1f} s")

        others = measure_other_tools(old, new, work)
        full_bytes, full_s = timed_command(
            ["zstd", "-q", "-f", "-19", "--long=27", str(new), "-o", str(work / "full.zst")],
            work / "full.zst",
        )
        log(f"full image, zstd -19 --long=27: {full_bytes:,} bytes in {full_s:.1f} s")

        applied = measure_apply(launcher, store, medfleet, work)
        applied_alternative = measure_apply(launcher, store, alternative, work)
        log(f"apply {medfleet.method}: peak {applied['peak_mb']} MB, {applied['seconds']:.1f} s")
        log(f"apply {other_method}: peak {applied_alternative['peak_mb']} MB")

    best_tool = min(others, key=lambda tool: others[tool][0])
    best_bytes = others[best_tool][0]
    ratio = medfleet.delta.length / best_bytes
    savings = 1 - medfleet.delta.length / full_bytes
    return {
        "bench": "delta",
        "package": package,
        "from_version": old_version,
        "to_version": new_version,
        "old_image_bytes": old_info.length,
        "new_image_bytes": new_info.length,
        "medfleet_method": medfleet.method,
        "medfleet_bytes": medfleet.delta.length,
        "medfleet_build_s": round(medfleet_build_s, 2),
        "medfleet_diff_s": medfleet.build_seconds,
        "medfleet_full_compressed_bytes": medfleet.full_compressed_length,
        "bsdiff4_bytes": others["bsdiff4"][0],
        "bsdiff4_s": round(others["bsdiff4"][1], 2),
        "xdelta3_bytes": others["xdelta3"][0],
        "xdelta3_s": round(others["xdelta3"][1], 2),
        "zstd_patch_from_bytes": others["zstd_patch_from"][0],
        "zstd_patch_from_s": round(others["zstd_patch_from"][1], 2),
        "best_other_tool": best_tool,
        "best_other_bytes": best_bytes,
        "ratio_to_best": round(ratio, 4),
        "full_compressed_bytes": full_bytes,
        "full_compress_s": round(full_s, 2),
        "savings_vs_full": round(savings, 4),
        "apply_peak_mb": applied["peak_mb"],
        "apply_baseline_mb": applied["baseline_mb"],
        "apply_net_mb": round(applied["peak_mb"] - applied["baseline_mb"], 1),
        "apply_s": round(applied["seconds"], 2),
        "alt_method": other_method,
        "alt_bytes": alternative.delta.length,
        "alt_build_s": round(alternative_build_s, 2),
        "alt_apply_peak_mb": applied_alternative["peak_mb"],
        "goal_ratio_to_best_met": ratio <= GOAL_RATIO_TO_BEST,
        "goal_savings_vs_full_met": savings >= GOAL_SAVINGS_VS_FULL,
        "bsdiff_limit": bsdiff_limit,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def main() -> None:
    """Parse the options, run, print the JSON result last."""
    if sys.argv[1:2] == ["--apply-child"]:
        apply_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK[0]} (under a minute)")
    parser.add_argument("--package", help=f"wheel to compare two releases of ({FULL[0]})")
    parser.add_argument("--from-version", help="the older release")
    parser.add_argument("--to-version", help="the newer release")
    parser.add_argument("--bsdiff-limit", type=int, default=BSDIFF_LIMIT, help="bytes")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "medfleet-bench-delta-wheels",
        help="where downloaded wheels are kept between runs",
    )
    options = parser.parse_args()
    package, old_version, new_version = QUICK if options.quick else FULL
    package = options.package or package
    old_version = options.from_version or old_version
    new_version = options.to_version or new_version
    launcher = ChildLauncher()
    try:
        ensure_tools()
        log(f"{package} {old_version} -> {new_version}")
        figures = run(
            launcher, package, old_version, new_version, options.cache, options.bsdiff_limit
        )
    finally:
        launcher.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
