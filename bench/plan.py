"""Campaign planning at fleet scale: eligibility, phase assignment and next windows.

For each size (default 1,000,000 and 2,000,000 devices) a child process (``--child``, code in
``bench/plan_child.py``) synthesises, seeded and untimed, a fleet in 5,000 sites spread over
40 IANA zones, each site with a daily or weekly maintenance window (some blacked out for the
next days), several models and hardware revisions, installed versions spread so that many
devices must go through one or two intermediate releases, ~1 % test devices, ~8 % of sites
that did not accept the release (~70 % of the others confirmed production after their test
devices) and ~0.5 % of devices busy in another campaign. Both children keep their fleet and
run a timed round when the parent says so, alternately (1M, 2M, 2M, 1M, ...), so that both
sizes see the same load on a shared machine. A round times:

- ``windows``: ``medfleet.rollouts.windows.next_opening`` for every site (the compiled-rule
  cache cleared first, so every rule is compiled once per round, as in a cold scheduler);
- ``plan``: ``medfleet.rollouts.planning.plan_campaign`` over the whole fleet (four
  percentage phases plus the canary phase, routing, acceptance, windows, busy devices);
- ``startable`` (reported, not in ``seconds_*``): the rows of phase 1 and
  ``medfleet.rollouts.startable.startable`` for them at the same instant.

``seconds_*`` is ``windows + plan`` (wall time) of each size's fastest round and ``scaling``
their ratio (noise on a shared machine only ever adds time); ``plan_scaling`` and
``cpu_scaling`` compare the least plan time and the least CPU time (``time.process_time``, of
windows + plan) of each size; ``round_scalings`` lists the ratio of every round's two halves.
Each size has its own process, so ``peak_mb_*`` is that child's ``ru_maxrss`` (data generation
included; ``input_mb_*`` is the resident size once the data exists, before anything is
timed). The parent imports nothing of medfleet, so Linux carries no large peak of
its own into the children.

Progress goes to stderr; the last stdout line is one JSON object (see bench/README.md).

    python bench/plan.py            # 1,000,000 and 2,000,000 devices, 5,000 sites, ~2 min
    python bench/plan.py --quick    # 100,000 and 200,000 devices, 500 sites, ~10 s
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

FULL_SIZES = (1_000_000, 2_000_000)
QUICK_SIZES = (100_000, 200_000)
GOAL_SCALING = 2.2
ZONES = (
    "Europe/Berlin",
    "Europe/London",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Warsaw",
    "Europe/Helsinki",
    "Europe/Athens",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Europe/Lisbon",
    "Europe/Dublin",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Phoenix",
    "America/Anchorage",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Bogota",
    "America/Santiago",
    "America/Halifax",
    "America/St_Johns",
    "Pacific/Honolulu",
    "Pacific/Auckland",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Perth",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Shanghai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dubai",
    "Asia/Singapore",
    "Africa/Johannesburg",
    "Africa/Cairo",
)


def log(message: str) -> None:
    """Progress for the human watching; stdout is kept for the JSON result."""
    print(f"[bench/plan] {message}", file=sys.stderr, flush=True)


class Child(JsonChild):
    """One size's child process, holding its synthetic fleet between timed rounds."""

    def __init__(self, devices: int, sites: int, seed: int) -> None:
        self.devices = devices
        arguments = ["--devices", str(devices), "--sites", str(sites), "--seed", str(seed)]
        super().__init__(__file__, arguments, f"the child for {devices:,} devices")

    def finish_summary(self) -> dict[str, Any]:
        """The child's summary plus its peak memory (``ru_maxrss`` via ``os.wait4``, MB)."""
        summary, peak_mb = self.finish()
        summary["peak_mb"] = peak_mb
        return summary


def measure(
    sizes: tuple[int, int], sites: int, seed: int, rounds: int
) -> tuple[list[dict[str, Any]], list[list[dict[str, float]]]]:
    """Both sizes, their rounds interleaved (the smaller first in odd rounds, the larger in
    even ones) so that the two halves of a round see the same load; the children's summaries
    and, per round, both sizes' figures."""
    children = [Child(size, sites, seed) for size in sizes]  # they synthesise side by side
    for child in children:
        child.ask()  # "ready"
    per_round: list[list[dict[str, float]]] = []
    for index in range(rounds):
        figures: dict[int, dict[str, float]] = {}
        for child in children if index % 2 == 0 else children[::-1]:
            figures[child.devices] = child.ask("round")
            log(
                f"round {index + 1}/{rounds}, {child.devices:,} devices: windows "
                f"{figures[child.devices]['windows_s']} s, plan {figures[child.devices]['plan_s']}"
                f" s, startable {figures[child.devices]['startable_s']} s"
            )
        per_round.append([figures[size] for size in sizes])
    return [child.finish_summary() for child in children], per_round


def main() -> None:
    """Parse the arguments; run as the parent (both sizes) or as one size's child."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k/200k devices, 500 sites")
    parser.add_argument("--sites", type=int, help="sites (default 5,000; --quick 500)")
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per size")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--devices", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    sites = options.sites or (500 if options.quick else 5_000)
    if options.child:
        from plan_child import serve

        serve(options.devices, sites, options.seed)
        return
    small, large = QUICK_SIZES if options.quick else FULL_SIZES
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    log(f"{small:,} and {large:,} devices in {sites:,} sites: two child processes")
    (first, second), per_round = measure((small, large), sites, options.seed, options.rounds)
    ratios = [pair[1]["seconds"] / pair[0]["seconds"] for pair in per_round]
    fastest = [
        min((pair[index] for pair in per_round), key=lambda f: f["seconds"]) for index in (0, 1)
    ]
    one, two = fastest
    scaling = two["seconds"] / one["seconds"]
    least = [
        {key: min(pair[index][key] for pair in per_round) for key in ("plan_s", "cpu_s")}
        for index in (0, 1)
    ]
    summary: dict[str, Any] = {
        "bench": "plan",
        "devices": [small, large],
        "sites": sites,
        "zones": len(ZONES),
        "seconds_1m": one["seconds"],
        "seconds_2m": two["seconds"],
        "scaling": round(scaling, 3),
        "goal_scaling": GOAL_SCALING,
        "goal_met": scaling <= GOAL_SCALING,
        "peak_mb": max(first["peak_mb"], second["peak_mb"]),
        "plan_scaling": round(least[1]["plan_s"] / least[0]["plan_s"], 3),
        "cpu_scaling": round(least[1]["cpu_s"] / least[0]["cpu_s"], 3),
        "round_scalings": [round(ratio, 3) for ratio in ratios],
    }
    for label, index, result in (("1m", 0, first), ("2m", 1, second)):
        summary[f"peak_mb_{label}"] = result["peak_mb"]
        summary[f"input_mb_{label}"] = result["input_mb"]
        for key in ("windows_s", "plan_s", "cpu_s", "startable_s"):
            summary[f"{key}_{label}"] = fastest[index][key]
        summary[f"least_plan_s_{label}"] = least[index]["plan_s"]
        summary[f"rounds_s_{label}"] = [pair[index]["seconds"] for pair in per_round]
    summary["plan_us_per_device_2m"] = round(least[1]["plan_s"] / large * 1e6, 3)
    summary["plan_2m"] = second["plan"]
    summary["startable_2m"] = second["startable"]
    summary.update(
        seed=options.seed,
        rounds=options.rounds,
        total_s=round(time.perf_counter() - started, 1),
        cpus=os.cpu_count(),
        load_avg_1m=[round(load_before, 2), round(os.getloadavg()[0], 2)],
        python=platform.python_version(),
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
