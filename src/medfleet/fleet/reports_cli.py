"""``medfleet reports``: downtime per hospital, site, model or release, and the CMMS export.

Periods: ``--since``/``--until`` take ``YYYY-MM-DD`` (UTC days; ``--until`` includes its day)
or ISO 8601 date-times with an offset. A hospital user sees only its own hospital.
"""

from __future__ import annotations

import csv
import io
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.fleet import device_fields
from medfleet.fleet.cmms import cmms_csv
from medfleet.fleet.downtime_model import (
    GROUP_BYS,
    DowntimeRow,
    GroupBy,
    check_group_by,
    parse_bound,
)
from medfleet.fleet.downtime_reports import downtime_report

app = typer.Typer(help="Downtime, install and CMMS reports.", no_args_is_help=True)

Hospital = Annotated[
    str | None, typer.Option("--hospital", help="Only this hospital (by name).", show_default=False)
]
Since = Annotated[
    str | None, typer.Option("--since", help="From this UTC day (YYYY-MM-DD) or instant.")
]
Until = Annotated[
    str | None, typer.Option("--until", help="Up to and including this UTC day, or instant.")
]


def _hospital_id(session: Session, principal: Principal, name: str | None) -> int | None:
    return None if name is None else device_fields.find_hospital(session, principal, name).id


def _period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    return (
        None if since is None else parse_bound(since),
        None if until is None else parse_bound(until, end=True),
    )


def _number(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value:g}{suffix}"


def _table(rows: list[DowntimeRow], group_by: GroupBy) -> Table:
    table = Table(title=f"Downtime by {group_by}")
    columns = [group_by] if group_by != "site" else ["hospital", "site"]
    for column in (*columns, "installs", "ok", "failed", "rolled back", "success"):
        table.add_column(column, justify="left" if column in columns else "right")
    for column in ("downtime min", "median", "p95", "unsupported"):
        table.add_column(column, justify="right")
    for row in rows:
        names = [row.label] if group_by != "site" else [row.hospital or "-", row.label]
        rate = None if row.success_rate is None else round(row.success_rate * 100, 1)
        table.add_row(
            *names,
            str(row.installs),
            str(row.succeeded),
            str(row.failed),
            str(row.rolled_back),
            _number(rate, "%"),
            _number(row.downtime_minutes_total),
            _number(row.downtime_minutes_median),
            _number(row.downtime_minutes_p95),
            str(row.unsupported_devices),
        )
    return table


@app.command("downtime")
@handle_errors
def downtime_command(
    user: UserOption,
    group_by: Annotated[
        str, typer.Option("--by", help=f"Group by {', '.join(GROUP_BYS)}.")
    ] = "hospital",
    hospital: Hospital = None,
    since: Since = None,
    until: Until = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Installs, success rate, downtime minutes (total, median, p95) and devices on
    unsupported versions, per hospital, site, model or release."""
    grouping = check_group_by(group_by)
    start, end = _period(since, until)
    with acting_as(data_dir, user) as (_runtime, principal, session):
        rows = downtime_report(
            session,
            principal,
            group_by=grouping,
            hospital_id=_hospital_id(session, principal, hospital),
            since=start,
            until=end,
        )
    if as_json:
        emit_json([row.to_dict() for row in rows])
        return
    console.print(_table(rows, grouping))


@app.command("cmms")
@handle_errors
def cmms_command(
    user: UserOption,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the CSV here (default: stdout).")
    ] = None,
    hospital: Hospital = None,
    since: Since = None,
    until: Until = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """One CMMS work order per install attempt, as RFC 4180 CSV (formula-safe); to stdout,
    or to --out FILE (with --json and no --out, the CSV comes inside the JSON document)."""
    start, end = _period(since, until)
    with acting_as(data_dir, user) as (_runtime, principal, session):
        text = cmms_csv(
            session,
            principal,
            hospital_id=_hospital_id(session, principal, hospital),
            since=start,
            until=end,
        )
    orders = len(list(csv.reader(io.StringIO(text, newline="")))) - 1  # minus the header
    if out is None and as_json:
        emit_json({"ok": True, "work_orders": orders, "csv": text})
        return
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8", newline="")
    report(
        as_json,
        {"ok": True, "path": str(out), "work_orders": orders},
        f"wrote {orders} work order(s) to {out}",
    )
