"""Audit trail throughput on SQLite: batched append and full verification, against hashlib.

Builds a fresh data directory in a temporary directory (settings, migrations, server key, as
``medfleet init`` would), appends N realistic events with ``AuditLog.record_many`` in batches
(one transaction each), verifies the whole chain with ``medfleet.audit.service.verify``, and
hashes the very same canonical event bytes with ``hashlib.sha256`` alone, in the same run, as
the yardstick. Progress goes to stderr; the last stdout line is one JSON object.

    python bench/audit.py            # 1,000,000 events
    python bench/audit.py --quick    # 100,000 events, well under a minute
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from medfleet.audit.model import NewEvent
from medfleet.audit.service import verify
from medfleet.config import load_settings
from medfleet.db.engine import transaction
from medfleet.db.migrate import upgrade
from medfleet.runtime import Runtime
from medfleet.signing.server_key import create_server_key

ACTIONS = (
    ("device", "device.update_installed"),
    ("device", "device.status_reported"),
    ("campaign", "campaign.phase_started"),
    ("change_request", "change.signed"),
    ("user", "user.login"),
)
GOAL_VERIFY_VS_HASHLIB = 0.3
GOAL_APPEND_PER_S = 20_000


def log(message: str) -> None:
    """Progress for the human watching; stdout is kept for the JSON result."""
    print(f"[bench/audit] {message}", file=sys.stderr, flush=True)


def events(first: int, count: int) -> list[NewEvent]:
    """Realistic events: several organizations, actors, object kinds and small payloads."""
    batch = []
    for n in range(first, first + count):
        object_type, action = ACTIONS[n % len(ACTIONS)]
        org = 1 + n % 40
        batch.append(
            NewEvent(
                actor=f"user:{org}.biomed{n % 7}",
                org_id=org,
                action=action,
                object_type=object_type,
                object_id=f"SN-{org:03d}-{n % 5000:05d}",
                payload={
                    "site": f"Site {org}/{n % 3}",
                    "from_version": "4.2.1",
                    "to_version": "4.3.0",
                    "result": "committed" if n % 11 else "rolled_back",
                    "downtime_s": n % 900,
                    "note": "Überprüft — ok" if n % 13 == 0 else None,
                },
            )
        )
    return batch


def canonical_documents(database: Path) -> list[bytes]:
    """The canonical bytes of every stored event, exactly as hashed (read before timing)."""
    connection = sqlite3.connect(database)
    documents = [doc.encode() for (doc,) in connection.execute("SELECT doc FROM audit_event")]
    connection.close()
    return documents


def hashlib_rate(documents: list[bytes]) -> float:
    """Events per second for ``hashlib.sha256(document).digest()`` alone."""
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for data in documents:
        sha256(data).digest()
    return len(documents) / (time.perf_counter() - started)


def verify_rate(rt: Runtime, count: int, workers: int | None) -> float:
    """Events per second for ``verify`` over the whole trail, in its own transaction."""
    with transaction(rt.sessions) as session:
        started = time.perf_counter()
        result = verify(session, rt.trusted_keys(), workers=workers)
        rate = count / (time.perf_counter() - started)
    if not result.ok or result.events_checked != count:
        raise SystemExit(f"verification failed: {result.as_dict()}")
    return rate


def median_round(rounds: list[tuple[float, float]]) -> tuple[float, float]:
    """The (rate, yardstick) pair of the round with the median ratio."""
    return sorted(rounds, key=lambda pair: pair[0] / pair[1])[len(rounds) // 2]


def run(
    count: int, batch: int, workers: int | None, rounds: int, data_dir: Path
) -> dict[str, object]:
    """Append, verify and hash ``count`` events; return the figures."""
    settings = load_settings(data_dir)
    create_server_key(settings.keys)
    rt = Runtime(settings)
    upgrade(rt.db)
    load_before = os.getloadavg()[0]
    append_seconds = 0.0
    for first in range(1, count + 1, batch):
        chunk = events(first, min(batch, count + 1 - first))
        started = time.perf_counter()
        with transaction(rt.sessions) as session:
            rt.audit.record_many(session, chunk)
        append_seconds += time.perf_counter() - started
        done = first - 1 + len(chunk)
        if done % 100_000 < batch or done == count:
            log(f"appended {done:,} events")
    append_per_s = count / append_seconds
    log(f"append: {append_per_s:,.0f} events/s")
    documents = canonical_documents(data_dir / "medfleet.db")
    doc_bytes = sum(map(len, documents)) / len(documents)
    # Each round times hashlib right before and right after each verification and compares
    # against the faster of the two (the machine's speed drifts; this errs against verify).
    # The figures reported are those of the round with the median ratio.
    parallel: list[tuple[float, float]] = []
    single: list[tuple[float, float]] = []
    for number in range(1, rounds + 1):
        before = hashlib_rate(documents)
        fast = verify_rate(rt, count, workers)
        middle = hashlib_rate(documents)
        slow = verify_rate(rt, count, 1)
        after = hashlib_rate(documents)
        parallel.append((fast, max(before, middle)))
        single.append((slow, max(middle, after)))
        log(
            f"round {number}: hashlib {before:,.0f} / {middle:,.0f} / {after:,.0f} events/s, "
            f"verify {fast:,.0f}, verify with one process {slow:,.0f}"
        )
    rt.close()
    verify_per_s, hashlib_per_s = median_round(parallel)
    single_per_s, single_hashlib = median_round(single)
    used_workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    return {
        "bench": "audit",
        "events": count,
        "batch": batch,
        "rounds": rounds,
        "append_per_s": round(append_per_s),
        "append_vs_hashlib": round(append_per_s / hashlib_per_s, 4),
        "verify_per_s": round(verify_per_s),
        "verify_vs_hashlib": round(verify_per_s / hashlib_per_s, 4),
        "hashlib_per_s": round(hashlib_per_s),
        "verify_workers": used_workers,
        "verify_single_per_s": round(single_per_s),
        "verify_single_vs_hashlib": round(single_per_s / single_hashlib, 4),
        "doc_bytes_mean": round(doc_bytes, 1),
        "goal_verify_vs_hashlib_met": verify_per_s / hashlib_per_s >= GOAL_VERIFY_VS_HASHLIB,
        "goal_append_per_s_met": append_per_s >= GOAL_APPEND_PER_S,
        "cpus": os.cpu_count(),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def main() -> None:
    """Parse the options, run in a temporary data directory, print the JSON result last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 events (under a minute)")
    parser.add_argument("--events", type=int, default=None, help="events to append (1,000,000)")
    parser.add_argument("--batch", type=int, default=5000, help="events per transaction")
    parser.add_argument("--workers", type=int, default=None, help="verify processes (auto)")
    parser.add_argument("--rounds", type=int, default=3, help="measurement rounds (best counts)")
    options = parser.parse_args()
    count = options.events or (100_000 if options.quick else 1_000_000)
    log(f"{count:,} events in batches of {options.batch:,} on SQLite")
    with tempfile.TemporaryDirectory(prefix="medfleet-bench-") as directory:
        figures = run(count, options.batch, options.workers, options.rounds, Path(directory))
    print(json.dumps(figures, sort_keys=False))


if __name__ == "__main__":
    main()
