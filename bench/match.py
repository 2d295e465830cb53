"""Matching SBOMs against advisories, and exposure over a fleet on PostgreSQL.

(a) The pure matching engine (``medfleet.vulns.matching``): a child process (``--child``, code
in ``bench/match_child.py``, data in ``bench/match_data.py``) synthesises, seeded and untimed,
10,000 release SBOMs of 300 components drawn from a shared pool (PyPI, npm, Debian, Maven and
Go packages, C libraries named by ``pkg:generic`` purl and CPE) and 50,000 advisories (OSV-style
ranges with introduced / fixed / last_affected / limit, explicit version lists, NVD-style CPE
rules), then in ``--rounds`` rounds times one engine pass (a fresh ``MatchIndex`` over every rule,
``match`` over all 3,000,000 components) and the yardstick right beside it (the rules put in a
dict by key, one lookup of every component's keys), alternating which goes first.
``match_seconds`` is the fastest engine pass, ``match_vs_baseline`` its ratio to the fastest
yardstick. ``match_peak_mb`` is the child's ``ru_maxrss`` after the rounds (synthetic input
included; ``input_mb`` is the same before any pass), ``match_traced_mb`` the engine's own peak
allocation in one more pass under ``tracemalloc``.

(b) Exposure: the same child loads a scratch database on PostgreSQL (``--pg-url``; created,
migrated, loaded with COPY, dropped) with the SBOMs as releases, the engine's hits as findings
and ``--devices`` devices in ``--hospitals`` hospitals, and times
``medfleet.vulns.exposure.vulnerability_exposure`` (``bench/match_exposure.py``); the yardstick
is ``SELECT count(*) FROM device`` in the same run. The goal: ``exposure_seconds`` < 1.

Progress goes to stderr; the last stdout line is one JSON object (see bench/README.md).

    python bench/match.py            # 10,000 SBOMs, 50,000 advisories, 1,000,000 devices
    python bench/match.py --quick    # 1,000 SBOMs, 5,000 advisories, 100,000 devices
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

from json_child import JsonChild

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_EXPOSURE_SECONDS = 1.0


def log(message: str) -> None:
    """Progress for the human watching; stdout is kept for the JSON result."""
    print(f"[bench/match] {message}", file=sys.stderr, flush=True)


class Child(JsonChild):
    """The child process that holds the synthetic data between commands."""

    def __init__(self, arguments: list[str]) -> None:
        super().__init__(__file__, arguments, "the child")


def main() -> None:
    """Parse the arguments; run as the parent or as the child."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1,000 SBOMs, 5,000 advisories, 100k devices"
    )
    parser.add_argument("--sboms", type=int, help="release SBOMs (default 10,000; --quick 1,000)")
    parser.add_argument("--components", type=int, default=300, help="components per SBOM")
    parser.add_argument("--advisories", type=int, help="advisories (default 50,000; --quick 5,000)")
    parser.add_argument("--devices", type=int, help="devices (default 1,000,000; --quick 100,000)")
    parser.add_argument("--hospitals", type=int, help="hospitals (default 2,000; --quick 200)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds")
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--pg-url", default=os.environ.get("MEDFLEET_BENCH_PG_URL", PG_URL))
    parser.add_argument("--no-exposure", action="store_true", help="skip the PostgreSQL part")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    sboms = options.sboms or (1_000 if options.quick else 10_000)
    advisories = options.advisories or (5_000 if options.quick else 50_000)
    devices = options.devices or (100_000 if options.quick else 1_000_000)
    hospitals = options.hospitals or (200 if options.quick else 2_000)
    if options.child:
        from match_child import serve

        serve(
            sboms,
            options.components,
            advisories,
            options.seed,
            {
                "pg_url": options.pg_url,
                "devices": devices,
                "hospitals": hospitals,
                "rounds": options.rounds,
                "seed": options.seed,
            },
        )
        return
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    arguments = [
        f"--sboms={sboms}",
        f"--components={options.components}",
        f"--advisories={advisories}",
        f"--devices={devices}",
        f"--hospitals={hospitals}",
        f"--rounds={options.rounds}",
        f"--seed={options.seed}",
        f"--pg-url={options.pg_url}",
    ]
    log(f"{sboms:,} SBOMs x {options.components} components, {advisories:,} advisories")
    child = Child(arguments)
    ready = child.ask()
    log(f"synthesised in {ready['synth_s']} s ({ready['input_mb']} MB resident)")
    rounds = []
    for index in range(options.rounds):
        rounds.append(child.ask(f"round {index % 2}"))
        engine, baseline = rounds[-1]["engine"], rounds[-1]["baseline"]
        log(
            f"round {index + 1}/{options.rounds}: engine {engine['seconds']} s, "
            f"baseline {baseline['seconds']} s"
        )
    memory = child.ask("memory")
    traced = child.ask("trace")
    exposure: dict[str, Any] = {}
    if not options.no_exposure:
        log(f"exposure: {devices:,} devices in {hospitals:,} hospitals on PostgreSQL")
        exposure = child.ask("exposure")
    _, overall_mb = child.finish()
    engine = min((r["engine"] for r in rounds), key=lambda e: e["seconds"])
    baseline = min((r["baseline"] for r in rounds), key=lambda b: b["seconds"])
    summary: dict[str, Any] = {
        "bench": "match",
        "sboms": sboms,
        "components_per_sbom": options.components,
        "components": ready["components"],
        "advisories": advisories,
        "match_seconds": engine["seconds"],
        "match_peak_mb": memory["match_peak_mb"],
        "exposure_seconds": exposure.get("exposure_seconds"),
        "goal_exposure_seconds": GOAL_EXPOSURE_SECONDS,
        "goal_met": None if not exposure else exposure["exposure_seconds"] < GOAL_EXPOSURE_SECONDS,
        "match_baseline_seconds": baseline["seconds"],
        "match_vs_baseline": round(engine["seconds"] / baseline["seconds"], 2),
        "round_ratios": [
            round(r["engine"]["seconds"] / r["baseline"]["seconds"], 2) for r in rounds
        ],
        "match_rounds_s": [r["engine"]["seconds"] for r in rounds],
        "match_cpu_s": engine["cpu_s"],
        "match_peak_mb_how": "ru_maxrss of the child after the timed rounds, input included",
        "input_mb": ready["input_mb"],
        "match_net_mb": round(memory["match_peak_mb"] - ready["input_mb"], 1),
        "match_traced_mb": traced["match_traced_mb"],
        "hits": engine["hits"],
        "hits_per_sbom": round(engine["hits"] / sboms, 1),
        "components_hit": engine["components_hit"],
        "components_with_rules": baseline["components_with_rules"],
        "packages_evaluated": engine["packages_evaluated"],
        "skipped": engine["skipped"],
        "rules": ready["rules"],
        "pool_packages": ready["pool_packages"],
        "package_names": ready["package_names"],
        "synth_s": ready["synth_s"],
        **{key: value for key, value in exposure.items() if key != "exposure_seconds"},
        "child_peak_mb": overall_mb,
        "seed": options.seed,
        "rounds": options.rounds,
        "total_s": round(time.perf_counter() - started, 1),
        "cpus": os.cpu_count(),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "python": platform.python_version(),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
