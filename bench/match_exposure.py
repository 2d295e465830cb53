"""Exposure on PostgreSQL for ``bench/match.py``: a scratch database, COPY loads, timed queries.

The scratch database (``medfleet_bench_match_<pid>``) is created on the server of ``--pg-url``,
migrated with medfleet's Alembic migrations, loaded with COPY and dropped at the end (also on
failure). It holds the synthetic SBOMs as releases of 40 device models (5 product lines, 250
releases each), every SBOM component, one vulnerability (and alias) per advisory, the engine's
hits as findings, and the fleet: devices in hospitals of log-normal size, 5 sites each (2 % of
devices without a site, 1 % test devices), each model's devices mostly on its recent releases.

Timed, interleaved with the yardstick ``SELECT count(*) FROM device`` in the same session:
``medfleet.vulns.exposure.vulnerability_exposure`` as the manufacturer for the vulnerability
that exposes the most devices (counts per hospital and site over every device; device rows
limited to 1,000, as a page shows), the same without the limit (every exposed device listed),
a typical vulnerability (the median exposed-device count), and one hospital's own view.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from match_data import LINE_RELEASES, Synthetic
from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.db.migrate import upgrade
from medfleet.fleet.tables import Device
from medfleet.vulns.exposure import vulnerability_exposure
from medfleet.vulns.matching import MatchResult

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).isoformat()
LINES_PER_MODEL = 5
SITES_PER_HOSPITAL = 5
PAGE = 1000
BULK_TABLES = frozenset({"sbom_component", "vuln_finding", "device"})


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench/match exposure] {message}", file=sys.stderr, flush=True)


def _release(index: int) -> tuple[str, str, int]:
    """(model, version, version number) of SBOM ``index`` (release pk ``index + 1``)."""
    line, release = divmod(index, LINE_RELEASES)
    model = f"M{line // LINES_PER_MODEL:02d}"
    generation = line % LINES_PER_MODEL
    return model, f"{generation + 1}.{release}.0", generation * 1000 + release


def _field(value: Any) -> str:
    """One value in COPY's text format (the synthetic data has no tab, newline or backslash)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    return str(value)


def _copy(connection: Any, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY ``rows`` into ``table``, formatted here in blocks of 20,000 lines (faster than
    adapting every value on its own)."""
    count = 0
    block: list[str] = []
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            block.append("\t".join(map(_field, row)))
            if len(block) == 20_000:
                copy.write("\n".join(block) + "\n")
                count += len(block)
                block.clear()
        if block:
            copy.write("\n".join(block) + "\n")
            count += len(block)
    return count


def _devices(
    rng: random.Random, data: Synthetic, devices: int, hospitals: int
) -> list[tuple[Any, ...]]:
    by_model: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for index in range(len(data.sboms)):
        model, version, number = _release(index)
        by_model[model].append((number, version))
    models = sorted(by_model)
    for model in models:
        by_model[model].sort()
    sizes = [rng.lognormvariate(0, 1) for _ in range(hospitals)]
    total = sum(sizes)
    cumulative, running = [], 0.0
    for size in sizes:
        running += size / total
        cumulative.append(running)
    rows = []
    for number in range(1, devices + 1):
        hospital = rng.choices(range(hospitals), cum_weights=cumulative)[0]
        model = models[number % len(models)]
        releases = by_model[model]
        newest_first = int(len(releases) * rng.random() ** 2.5)
        version_number, version = releases[len(releases) - 1 - newest_first]
        site = (
            None
            if rng.random() < 0.02
            else hospital * SITES_PER_HOSPITAL + rng.randrange(SITES_PER_HOSPITAL) + 1
        )
        rows.append(
            (
                number,
                f"D{number:08d}",
                hospital + 2,
                model,
                "A",
                f"S{number:08d}",
                NOW,
                0,
                version,
                version_number,
                site,
                rng.random() < 0.01,
                "[]",
            )
        )
    return rows


def _tables(
    rng: random.Random,
    data: Synthetic,
    result: MatchResult,
    devices: int,
    hospitals: int,
) -> Iterable[tuple[str, str, Iterable[tuple[Any, ...]]]]:
    """(table, columns, rows) in load order; rows are produced as COPY consumes them."""
    yield (
        "organization",
        "id, name, kind, created_at",
        [
            (1, "Bench Medical", "manufacturer", NOW),
            *((h + 2, f"Hospital {h}", "hospital", NOW) for h in range(hospitals)),
        ],
    )
    yield (
        "user_account",
        "id, org_id, username, full_name, password_hash, failed_logins, active, created_at",
        [(1, 1, "bench", "Bench Engineer", "-", 0, True, NOW)],
    )
    yield (
        "site",
        "id, org_id, name, timezone, created_at",
        (
            (h * SITES_PER_HOSPITAL + s + 1, h + 2, f"Site {s}", "Europe/Berlin", NOW)
            for h in range(hospitals)
            for s in range(SITES_PER_HOSPITAL)
        ),
    )
    releases = [(i + 1, *_release(i)) for i in range(len(data.sboms))]
    now2, now3 = (NOW, NOW), (NOW, NOW, NOW)
    yield (
        "release_record",
        "id, org_id, model, version, version_number, build_id, hardware_revisions, "
        "notes_what_changed, notes_risk_summary, notes_compatibility, author_id, state, "
        "created_at, updated_at, released_at",
        (
            (pk, 1, model, version, number, f"b{pk}", '["A"]', "", "", "", 1, "released", *now3)
            for pk, model, version, number in releases
        ),
    )
    yield (
        "sbom",
        "id, release_pk, format, spec_version, document_sha256, component_count, imported_by, "
        "imported_at",
        ((pk, pk, "cyclonedx", "1.6", "0" * 64, 300, 1, NOW) for pk, *_ in releases),
    )
    yield (
        "sbom_component",
        "id, sbom_id, release_pk, bom_ref, kind, name, version, purl, package_key, cpe, "
        "cpe_key, hashes",
        _component_rows(data),
    )
    keys = {rule.vulnerability_id: rule.vulnerability_key for rule in data.rules}
    yield (
        "vulnerability",
        "id, key, summary, first_seen_at",
        ((vid, key, "synthetic", NOW) for vid, key in keys.items()),
    )
    yield "vulnerability_alias", "alias, vulnerability_id", ((k, v) for v, k in keys.items())
    yield (
        "vuln_finding",
        "release_pk, component_id, vulnerability_id, matched_by, reason, active, "
        "first_matched_at, updated_at",
        (
            (h.release_pk, h.component_id, h.vulnerability_id, h.matched_by, h.reason, True, *now2)
            for h in result.hits()
        ),
    )
    yield (
        "device",
        "id, device_id, org_id, model, hardware_revision, serial, registered_at, "
        "last_report_seq, installed_version, installed_version_number, site_id, "
        "is_test_device, tags",
        _devices(rng, data, devices, hospitals),
    )


def load(
    engine: Engine, data: Synthetic, result: MatchResult, devices: int, hospitals: int, seed: int
) -> dict[str, Any]:
    """Everything the exposure query reads, with COPY, then ``VACUUM ANALYZE``."""
    started = time.perf_counter()
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    raw = engine.raw_connection()
    connection = raw.driver_connection
    counts: dict[str, int] = {}
    try:
        connection.execute("SET synchronous_commit = off")
        connection.execute("SET maintenance_work_mem = '256MB'")
        for table, columns, rows in _tables(rng, data, result, devices, hospitals):
            begun = time.perf_counter()
            restore = _detach(connection, table) if table in BULK_TABLES else []
            counts[table] = _copy(connection, table, columns, rows)
            for statement in restore:
                connection.execute(statement)
            log(f"{table}: {counts[table]:,} rows in {time.perf_counter() - begun:.1f} s")
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
    finally:
        # Autocommit and the settings above are the load's own: the connection is closed, not
        # handed back to the pool for the timed queries.
        raw.invalidate()
    return {"load_s": round(time.perf_counter() - started, 1), "rows": counts}


def _detach(connection: Any, table: str) -> list[str]:
    """Drop ``table``'s foreign keys, unique constraints and secondary indexes for a bulk load
    (building them once afterwards is far cheaper than row by row); the SQL that restores them
    exactly as the migration made them, indexes first."""
    constraints = connection.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
        (table,),
    ).fetchall()
    for name, _ in constraints:
        connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    indexes = connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        (table, table),
    ).fetchall()
    for name, _ in indexes:
        connection.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for name, definition in constraints
    ]


def _component_rows(data: Synthetic) -> Iterable[tuple[Any, ...]]:
    next_id = 1
    for index, sbom in enumerate(data.sboms):
        pk = index + 1
        for position, entry in enumerate(sbom):
            name, version, purl, cpe = data.pool_rows[entry]
            package = data.pool[entry]
            yield (
                next_id,
                pk,
                pk,
                f"c{position}",
                "library",
                name,
                version,
                purl,
                package.package_key,
                cpe,
                package.cpe_key,
                "[]",
            )
            next_id += 1


def _chosen(result: MatchResult, devices_per_release: dict[int, int]) -> tuple[int, int]:
    """The vulnerability exposing the most devices, and one with the median count."""
    releases: dict[int, set[int]] = defaultdict(set)
    for release_pk, (found, _) in zip(result.release_pks, result.verdicts, strict=True):
        for vulnerability_id, *_ in found:
            releases[vulnerability_id].add(release_pk)
    exposed = sorted(
        (sum(devices_per_release.get(pk, 0) for pk in pks), vid) for vid, pks in releases.items()
    )
    exposed = [pair for pair in exposed if pair[0] > 0] or exposed
    return exposed[-1][1], exposed[len(exposed) // 2][1]


def run(
    data: Synthetic,
    result: MatchResult,
    *,
    pg_url: str,
    devices: int,
    hospitals: int,
    rounds: int,
    seed: int,
) -> dict[str, Any]:
    """Create, load, time and drop the scratch database; the figures."""
    name = f"medfleet_bench_match_{os.getpid()}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(pg_url).set(database=name))
    try:
        upgrade(engine)
        log(f"scratch database {name} migrated; loading with COPY")
        loaded = load(engine, data, result, devices, hospitals, seed)
        log(f"loaded in {loaded['load_s']} s: {loaded['rows']}")
        return {**loaded, **measure(engine, data, result, rounds)}
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(engine: Engine, data: Synthetic, result: MatchResult, rounds: int) -> dict[str, Any]:
    """Fastest of ``rounds`` for each query, the yardstick timed right beside each."""
    manufacturer = Principal(
        1, "bench", "Bench Engineer", 1, OrgKind.MANUFACTURER, frozenset({Role.ENGINEER})
    )
    with Session(engine) as session:
        per_release = dict(
            session.execute(
                text(
                    "SELECT r.id, count(*) FROM device d JOIN release_record r "
                    "ON r.model = d.model AND r.version = d.installed_version GROUP BY r.id"
                )
            ).all()
        )
    worst, typical = _chosen(result, per_release)
    # The synthetic input and the match result stay alive throughout; the collector need not
    # rescan them during the timed queries (a service holds no such heap).
    gc.collect()
    gc.freeze()
    keys = {rule.vulnerability_id: rule.vulnerability_key for rule in data.rules}
    times: dict[str, list[float]] = defaultdict(list)
    shape: dict[str, Any] = {}
    for index in range(rounds):
        steps = ["baseline", "worst", "all", "typical", "hospital"]
        for step in steps if index % 2 == 0 else steps[::-1]:
            # The previous step's garbage (a million device rows after "all") is collected
            # here, untimed, not in whichever step the collector next interrupts.
            gc.collect()
            with Session(engine) as session:
                started = time.perf_counter()
                if step == "baseline":
                    shape["devices_total"] = session.scalar(
                        select(func.count()).select_from(Device)
                    )
                elif step == "worst":
                    found = vulnerability_exposure(
                        session, manufacturer, keys[worst], device_limit=PAGE
                    )
                    shape["worst"] = found
                elif step == "all":
                    listed = vulnerability_exposure(session, manufacturer, keys[worst])
                    shape["listed_all"] = listed.devices_listed
                elif step == "typical":
                    shape["typical"] = vulnerability_exposure(
                        session, manufacturer, keys[typical], device_limit=PAGE
                    )
                else:
                    biggest = max(shape["worst"].hospitals, key=lambda h: h.device_count)
                    hospital = Principal(
                        2,
                        "biomed",
                        "Bio Med",
                        biggest.id,
                        OrgKind.HOSPITAL,
                        frozenset({Role.HOSPITAL_BIOMED}),
                    )
                    vulnerability_exposure(session, hospital, keys[worst], device_limit=PAGE)
                times[step].append(time.perf_counter() - started)
            if step == "worst":
                log(f"round {index + 1}/{rounds}: exposure {times['worst'][-1]:.3f} s")
    worst_found, typical_found = shape["worst"], shape["typical"]
    best = {step: min(values) for step, values in times.items()}
    return {
        "exposure_seconds": round(best["worst"], 3),
        "exposure_baseline_count_seconds": round(best["baseline"], 3),
        "exposure_vs_count": round(best["worst"] / best["baseline"], 2),
        "exposure_all_devices_seconds": round(best["all"], 3),
        "exposure_typical_seconds": round(best["typical"], 3),
        "exposure_hospital_seconds": round(best["hospital"], 3),
        "exposure_rounds_s": [round(v, 3) for v in times["worst"]],
        "exposure_median_s": round(statistics.median(times["worst"]), 3),
        "exposure_vulnerability": keys[worst],
        "exposed_devices": worst_found.device_count,
        "exposed_hospitals": len(worst_found.hospitals),
        "exposed_sites": sum(len(h.sites) for h in worst_found.hospitals),
        "affected_releases": len(worst_found.releases),
        "devices_listed_all": shape["listed_all"],
        "typical_exposed_devices": typical_found.device_count,
        "typical_affected_releases": len(typical_found.releases),
        "devices": shape["devices_total"],
    }
