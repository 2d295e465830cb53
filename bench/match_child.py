"""The child of ``bench/match.py``: synthesise (untimed), then time the engine when asked.

Imported only by ``bench/match.py --child``; see that file for what is measured. It answers
each command on stdin with one JSON line on stdout:

- ``round 0`` / ``round 1``: one engine pass and one baseline pass (baseline first in ``round
  0``, engine first in ``round 1``), each on a fresh index;
- ``memory``: this process's peak resident size so far (``ru_maxrss``);
- ``trace``: one more engine pass under ``tracemalloc``, its peak allocation;
- ``exposure``: the PostgreSQL exposure measurement (``match_exposure.run``);
- ``done``: the last answer; the process then ends.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

from match_data import Synthetic, synthesise
from medfleet.vulns.matching import Component, MatchIndex, MatchResult, Rule


def log(message: str) -> None:
    """Progress on stderr (stdout carries the answers)."""
    print(f"[bench/match child] {message}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    """This process's peak resident size so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def engine_pass(
    rules: Sequence[Rule], components: Sequence[Component]
) -> tuple[dict[str, Any], MatchResult]:
    """Index the rules and match every component: wall and CPU time, and what was found."""
    started, cpu = time.perf_counter(), time.process_time()
    index = MatchIndex(rules)
    result = index.match(components)
    figures = {
        "seconds": round(time.perf_counter() - started, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "hits": result.hit_count,
        "components_hit": len(result.verdicts),
        "packages_evaluated": index.packages_evaluated,
        "skipped": sum(1 for _ in result.skips()),
    }
    return figures, result


def baseline_pass(rules: Sequence[Rule], components: Sequence[Component]) -> dict[str, Any]:
    """The yardstick: the rules in a dict by key, and one lookup of every component's keys."""
    started, cpu = time.perf_counter(), time.process_time()
    by_key: dict[str, list[Rule]] = {}
    for rule in rules:
        if rule.package_key is not None:
            by_key.setdefault(rule.package_key, []).append(rule)
        if rule.cpe_key is not None:
            by_key.setdefault(rule.cpe_key, []).append(rule)
    get = by_key.get
    with_rules = 0
    for _component_id, _release_pk, package in components:
        if get(package.package_key) is not None or get(package.cpe_key) is not None:  # type: ignore[arg-type]
            with_rules += 1
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "components_with_rules": with_rules,
    }


def traced(rules: Sequence[Rule], components: Sequence[Component]) -> dict[str, Any]:
    """One engine pass under tracemalloc: the peak the engine itself allocates (index, caches,
    verdicts, result columns), the input excluded."""
    gc.collect()
    tracemalloc.start()
    index = MatchIndex(rules)
    result = index.match(components)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del index, result
    return {"match_traced_mb": round(peak / 2**20, 1)}


def serve(
    sboms: int, per_sbom: int, advisories: int, seed: int, exposure_options: dict[str, Any]
) -> None:
    """Synthesise, say ready, then answer commands until ``done``."""
    started = time.perf_counter()
    data: Synthetic = synthesise(sboms, per_sbom, advisories, seed)
    components = data.components()
    gc.collect()
    gc.freeze()  # the synthetic input is permanent: the collector need not rescan it
    log(f"synthesised in {time.perf_counter() - started:.1f} s")
    answer(
        {
            "ready": True,
            "synth_s": round(time.perf_counter() - started, 1),
            "input_mb": rss_mb(),
            "components": len(components),
            "rules": len(data.rules),
            "advisories": advisories,
            "pool_packages": len(data.pool),
            "package_names": len(data.names),
        }
    )
    last: MatchResult | None = None
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "round":
            last = None  # freed before the next pass
            if rest == ["0"]:
                baseline = baseline_pass(data.rules, components)
                engine, last = engine_pass(data.rules, components)
            else:
                engine, last = engine_pass(data.rules, components)
                baseline = baseline_pass(data.rules, components)
            answer({"engine": engine, "baseline": baseline})
        elif command == "memory":
            answer({"match_peak_mb": rss_mb()})
        elif command == "trace":
            answer(traced(data.rules, components))
        elif command == "exposure":
            from match_exposure import run

            assert last is not None, "run a round first"
            answer(run(data, last, **exposure_options))
        elif command == "done":
            answer({"done": True})
            return


def answer(document: dict[str, Any]) -> None:
    """One JSON line to the parent."""
    print(json.dumps(document), flush=True)
