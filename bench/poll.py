"""Device polls per second: the medfleet API app against a minimal ASGI app, same bytes.

Builds a data directory (settings, schema, server key, demo-style signing with one root
holder) and enrolls N devices in the director (default 100,000; in parallel processes). Then
serves it twice with uvicorn, same settings, one process each: the real app
(``medfleet.api.app.create_app``) and a minimal raw ASGI callable that answers the same
``GET /repo/director/<device>/metadata/timestamp.json`` with the same bytes, ETag and 304
handling from a dict in memory. ``wrk`` (a second process, loopback) polls random devices:
a share of the requests revalidates with the device's current ``If-None-Match`` (304), the
rest fetches the file (200). Runs alternate between the two servers, in interleaved rounds;
the round with the median ratio is reported.
Progress goes to stderr; the last stdout line is one JSON object.

    python bench/poll.py            # 100,000 devices
    python bench/poll.py --quick    # 2,000 devices, short runs, well under a minute
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from medfleet.bootstrap import prepare_storage
from medfleet.clock import SystemClock
from medfleet.config import load_settings
from medfleet.releases.static import public_dir
from medfleet.runtime import Runtime
from medfleet.signing.director import Director
from medfleet.signing.image_repo import ImageRepository
from medfleet.signing.keys import KeyStore
from medfleet.signing.setup import create_signing
from poll_servers import TABLE_NAME, fetch, server_options, start_server, stop_server

GOAL_RATIO = 0.5
ROOT_PASSWORD = "bench root holder"  # noqa: S105 - a throw-away demo key in a temp directory
ADMIN_PASSWORD = "bench admin"  # noqa: S105
ENROLL_CHUNK = 500
MAX_REVALIDATE_SHARE_DRIFT = 0.03


# One request per call: a random device, If-None-Match with its current ETag for a share of
# them. Counts statuses per thread; ``done`` sums the threads and prints one parseable line.
WRK_SCRIPT = r"""
local paths, etags, n, share = {}, {}, 0, 0.9
c200, c304, cother = 0, 0, 0
local threads, counter = {}, 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local path, etag = line:match("^(%S+) (.+)$")
    n = n + 1
    paths[n] = path
    etags[n] = etag
  end
  share = tonumber(args[2])
  math.randomseed(tonumber(args[3]) + 7919 * id)
end

function request()
  local i = math.random(n)
  if math.random() < share then
    return wrk.format("GET", paths[i], {["If-None-Match"] = etags[i]})
  end
  return wrk.format("GET", paths[i], {})
end

function response(status, headers, body)
  if status == 200 then
    c200 = c200 + 1
  elseif status == 304 then
    c304 = c304 + 1
  else
    cother = cother + 1
  end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("c200")
    b = b + thread:get("c304")
    c = c + thread:get("cother")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKRESULT {"requests": %d, "duration_us": %d, "s200": %d, "s304": %d, "other": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, '
      .. '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, a, b, c, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def log(message: str) -> None:
    """Progress for the human watching; stdout is kept for the JSON result."""
    print(f"[bench/poll] {message}", file=sys.stderr, flush=True)


def device_id(number: int) -> str:
    """The id of the ``number``-th bench device."""
    return f"bench-{number:06d}"


def poll_path(device: str) -> str:
    """The URL path a device polls (``medfleet.agent.poll``)."""
    return f"/repo/director/{device}/metadata/timestamp.json"


# --- setup ------------------------------------------------------------------------------


def _enroll_numbers(job: tuple[str, str, list[int]]) -> int:
    """Enroll the devices numbered in ``job`` (in a worker process); return how many."""
    public, key_dir, numbers = job
    keys = KeyStore(Path(key_dir))
    clock = SystemClock()
    director = Director(Path(public), keys, clock, ImageRepository(Path(public), keys, clock))
    for number in numbers:
        director.enroll(device_id(number))
    return len(numbers)


def enroll_devices(public: Path, key_dir: Path, devices: int, workers: int) -> int:
    """Enroll every bench device that has no director metadata yet; return how many were.

    Each worker process enrolls other devices. ``Director.enroll`` holds a shared lock on the
    director's root history and an exclusive lock on the device's directory, and writes every
    file atomically, so parallel enrollment is safe (even of the same device).
    """
    missing = [n for n in range(devices) if not (public / poll_path(device_id(n))[1:]).is_file()]
    jobs = [
        (str(public), str(key_dir), missing[at : at + ENROLL_CHUNK])
        for at in range(0, len(missing), ENROLL_CHUNK)
    ]
    done = 0
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for count in pool.imap_unordered(_enroll_numbers, jobs):
            done += count
            if done % 10_000 < count or done == len(missing):
                rate = done / (time.perf_counter() - started)
                log(f"enrolled {done:,}/{len(missing):,} devices ({rate:,.0f}/s)")
    return len(missing)


def write_table(public: Path, devices: int, table: Path) -> None:
    """Write ``<url-path> <etag>`` per device, the ETag computed as Starlette computes it."""
    from starlette.responses import FileResponse

    with table.open("w", encoding="ascii") as out:
        for number in range(devices):
            path = poll_path(device_id(number))
            file = public / path[1:]
            etag = FileResponse(file, stat_result=file.stat()).headers["etag"]
            out.write(f"{path} {etag}\n")


def build_data_dir(data_dir: Path, devices: int, workers: int) -> dict[str, Any]:
    """Storage, schema, server key and signing as ``medfleet init``/``demo``; enroll devices."""
    settings = load_settings(data_dir)
    runtime = Runtime(settings)
    prepare_storage(runtime)
    runtime.close()
    keys = KeyStore(settings.keys)
    public = public_dir(settings.blobs)
    if not (public / "repo/director/_root/1.root.json").is_file():
        create_signing(
            public,
            keys,
            SystemClock(),
            root_passwords=[ROOT_PASSWORD],
            root_threshold=1,
            targets_username="admin",
            targets_password=ADMIN_PASSWORD,
            production=False,
        )
    started = time.perf_counter()
    enrolled = enroll_devices(public, settings.keys, devices, workers)
    enroll_seconds = time.perf_counter() - started
    write_table(public, devices, data_dir / TABLE_NAME)
    return {"enrolled": enrolled, "enroll_seconds": round(enroll_seconds, 1)}


def check_same_answers(ports: dict[str, int], table: Path, devices: int) -> None:
    """Both servers answer a sample of polls alike: status, body and headers (not date)."""
    lines = table.read_text(encoding="ascii").splitlines()
    for number in sorted({0, devices - 1, *range(0, devices, max(1, devices // 25))}):
        path, etag = lines[number].split(" ", 1)
        for sent in (None, etag, '"stale"'):
            answers = {}
            for kind, port in ports.items():
                status, headers, body = fetch(port, path, sent)
                headers.pop("date", None)
                answers[kind] = (status, headers, body)
            if answers["medfleet"] != answers["baseline"]:
                raise SystemExit(f"the servers answer {path} differently: {answers}")
            expected = 304 if sent == etag else 200
            if answers["medfleet"][0] != expected:
                raise SystemExit(f"{path} with If-None-Match {sent}: {answers['medfleet'][0]}")


# --- the load ---------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The path of ``wrk``, installed from the distribution's packages if missing."""
    found = shutil.which("wrk")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        log("wrk is missing: apt-get install -y wrk")
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
            subprocess.run(command, stdout=sys.stderr, check=False)
        found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench/poll.py needs wrk (apt-get install wrk) and could not install it")
    return found


def run_wrk(
    wrk: str, script: Path, port: int, table: Path, options: argparse.Namespace, seconds: float
) -> dict[str, Any]:
    """One wrk run against ``port``; its counts, rate and latencies."""
    command = [
        wrk,
        f"--threads={options.threads}",
        f"--connections={options.connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--script={script}",
        f"http://127.0.0.1:{port}/",
        "--",
        str(table),
        str(options.revalidate),
        str(options.seed),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in output.stdout.splitlines() if line.startswith("WRKRESULT ")]
    if output.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({output.returncode}): {output.stdout}{output.stderr}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("WRKRESULT "))
    result["per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    answered = result["s200"] + result["s304"]
    result["revalidated"] = result["s304"] / answered if answered else 0.0
    return result


def check_run(kind: str, run: dict[str, Any], revalidate: float) -> None:
    """Fail the bench on any error or status other than 200/304, or a wrong 304 share."""
    errors = {k: run[k] for k in ("other", "connect", "read", "write", "status", "timeout")}
    if any(errors.values()) or run["s200"] + run["s304"] == 0:
        raise SystemExit(f"{kind}: errors or unexpected statuses {errors} in {run}")
    if abs(run["revalidated"] - revalidate) > MAX_REVALIDATE_SHARE_DRIFT:
        raise SystemExit(
            f"{kind}: {run['revalidated']:.3f} of the polls got 304, expected {revalidate}"
            " (stale ETags?)"
        )


def measure(data_dir: Path, options: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Start both servers, check they agree, warm them up, run interleaved rounds."""
    wrk = ensure_wrk()
    table = data_dir / TABLE_NAME
    script = data_dir / "poll.lua"
    script.write_text(WRK_SCRIPT, encoding="ascii")
    ready = poll_path(device_id(0))
    processes: list[subprocess.Popen[bytes]] = []
    ports: dict[str, int] = {}
    try:
        for kind in ("baseline", "medfleet"):
            process, ports[kind] = start_server(kind, data_dir, ready)
            processes.append(process)
        check_same_answers(ports, table, options.devices)
        log("both servers answer the sample alike (status, body, headers)")
        for port in ports.values():
            run_wrk(wrk, script, port, table, options, options.warmup)
        runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "medfleet": []}
        for number in range(options.rounds):
            order = ("baseline", "medfleet") if number % 2 == 0 else ("medfleet", "baseline")
            for kind in order:
                run = run_wrk(wrk, script, ports[kind], table, options, options.duration)
                check_run(kind, run, options.revalidate)
                runs[kind].append(run)
            log(
                f"round {number + 1}: baseline {runs['baseline'][-1]['per_s']:,.0f}/s, "
                f"medfleet {runs['medfleet'][-1]['per_s']:,.0f}/s "
                f"(ratio {runs['medfleet'][-1]['per_s'] / runs['baseline'][-1]['per_s']:.3f})"
            )
    finally:
        for process in processes:
            stop_server(process)
    return runs


def bench(options: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    """Set up (timed as ``setup_seconds``), measure, and return the JSON figures."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    log(f"setting up {options.devices:,} devices in {data_dir}")
    setup = build_data_dir(data_dir, options.devices, options.workers)
    setup_seconds = time.perf_counter() - started
    log(f"setup took {setup_seconds:,.1f} s")
    runs = measure(data_dir, options)
    # Each round runs both servers back to back, so its ratio compares like with like; the
    # machine's speed drifts between rounds. The figures come from the round with the median
    # ratio, so the JSON line is self-consistent (polls_per_s / baseline_per_s == ratio).
    pairs = sorted(
        zip(runs["medfleet"], runs["baseline"], strict=True),
        key=lambda pair: pair[0]["per_s"] / pair[1]["per_s"],
    )
    median_run, median_baseline = pairs[(len(pairs) - 1) // 2]
    polls, baseline = median_run["per_s"], median_baseline["per_s"]
    ratios = [
        m["per_s"] / b["per_s"] for m, b in zip(runs["medfleet"], runs["baseline"], strict=True)
    ]
    import uvicorn

    return {
        "bench": "poll",
        "devices": options.devices,
        "polls_per_s": round(polls),
        "baseline_per_s": round(baseline),
        "ratio": round(polls / baseline, 3),
        "goal_ratio": GOAL_RATIO,
        "goal_met": polls / baseline >= GOAL_RATIO,
        "revalidate_share": options.revalidate,
        "observed_revalidate_share": round(median_run["revalidated"], 3),
        "setup_seconds": round(setup_seconds, 1),
        **setup,
        "enroll_workers": options.workers,
        "connections": options.connections,
        "threads": options.threads,
        "duration_s": options.duration,
        "warmup_s": options.warmup,
        "rounds": options.rounds,
        "round_ratios": [round(ratio, 3) for ratio in ratios],
        "polls_per_s_median": round(statistics.median(r["per_s"] for r in runs["medfleet"])),
        "baseline_per_s_median": round(statistics.median(r["per_s"] for r in runs["baseline"])),
        "polls_per_s_runs": [round(run["per_s"]) for run in runs["medfleet"]],
        "baseline_per_s_runs": [round(run["per_s"]) for run in runs["baseline"]],
        "p50_ms": round(median_run["p50_us"] / 1000, 2),
        "p99_ms": round(median_run["p99_us"] / 1000, 2),
        "baseline_p50_ms": round(median_baseline["p50_us"] / 1000, 2),
        "baseline_p99_ms": round(median_baseline["p99_us"] / 1000, 2),
        "server": f"uvicorn {uvicorn.__version__}",
        **server_options(),
        "cpus": os.cpu_count(),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "python": platform.python_version(),
    }


def main() -> None:
    """Parse the options; serve (child) or run the bench and print the JSON result last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 devices, short runs")
    parser.add_argument("--devices", type=int, help="enrolled devices (100,000)")
    parser.add_argument("--duration", type=float, help="seconds per measured run (8; quick 3)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per server (3; quick 1)")
    parser.add_argument("--rounds", type=int, help="interleaved pairs of runs (5; quick 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--revalidate", type=float, default=0.9, help="share of polls with ETag")
    parser.add_argument("--workers", type=int, default=4, help="enrollment processes")
    parser.add_argument("--seed", type=int, default=20260115, help="wrk's random seed")
    parser.add_argument("--data-dir", type=Path, help="keep (or reuse) the data directory here")
    options = parser.parse_args()
    options.devices = options.devices or (2_000 if options.quick else 100_000)
    options.duration = options.duration or (3.0 if options.quick else 8.0)
    options.warmup = options.warmup or (1.0 if options.quick else 3.0)
    options.rounds = options.rounds or (3 if options.quick else 5)
    if not 0.0 <= options.revalidate <= 1.0:
        parser.error("--revalidate is a share between 0 and 1")
    if options.data_dir is not None:
        options.data_dir.mkdir(parents=True, exist_ok=True)
        figures = bench(options, options.data_dir.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="medfleet-bench-poll-") as directory:
            figures = bench(options, Path(directory))
            log("removing the temporary data directory")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
