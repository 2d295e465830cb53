"""``medfleet vulns findings`` and ``medfleet vulns match``: read and recompute findings."""

from __future__ import annotations

from typing import Annotated

import typer

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors
from medfleet.vulns import findings, findings_views
from medfleet.vulns.findings_views import FindingView

ReleaseOption = Annotated[
    str | None, typer.Option("--release", help="One release, as MODEL/VERSION (IP-100/4.2.0).")
]


@handle_errors
def findings_command(
    user: UserOption,
    release: ReleaseOption = None,
    vulnerability: Annotated[
        str | None, typer.Option("--vuln", help="One vulnerability, by any of its ids.")
    ] = None,
    include_inactive: Annotated[
        bool, typer.Option("--include-inactive", help="Also findings that no longer match.")
    ] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Which releases' components carry which vulnerabilities, and why (manufacturer only)."""
    model, version = (None, None) if release is None else findings_views.parse_release_ref(release)
    with acting_as(data_dir, user) as (_runtime, principal, session):
        rows = findings_views.list_findings(
            session,
            principal,
            model=model,
            version=version,
            vulnerability=vulnerability,
            include_inactive=include_inactive,
        )
    if as_json:
        emit_json({"findings": [row.as_dict() for row in rows]})
        return
    _print(rows, include_inactive)


def _print(rows: list[FindingView], include_inactive: bool) -> None:
    """One block per finding: the reasons are long, so no table that would truncate them."""
    if not rows:
        console.print("no findings")
        return
    for row in rows:
        state = "" if not include_inactive else (" active" if row.active else " inactive")
        console.print(
            f"{row.vulnerability}  {row.release_model}/{row.release_version}  "
            f"{row.component}@{row.component_version or '?'}  by {row.matched_by}{state}\n"
            f"  {row.purl or row.cpe or '-'}\n  {row.reason}",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip


@handle_errors
def match_command(
    user: UserOption,
    release: ReleaseOption = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Recompute findings for one release, or all releases with an SBOM (engineer, QA/RA, admin)."""
    model, version = (None, None) if release is None else findings_views.parse_release_ref(release)
    with acting_as(data_dir, user) as (runtime, principal, session):
        summary = findings.run_matching(
            session, runtime.audit, principal, model=model, version=version
        )
    if as_json:
        emit_json(summary.as_dict())
        return
    console.print(
        f"{len(summary.scope_ids)} release(s), {summary.components} components, "
        f"{summary.rules} advisory packages: {summary.matched} findings active; "
        f"{summary.created} new, {summary.reactivated} reactivated, {summary.updated} updated, "
        f"{summary.deactivated} no longer matching",
        highlight=False,
    )
    for skip in summary.skipped[: findings.SKIPS_SHOWN]:
        console.print(f"  skipped: {skip.reason}", highlight=False, markup=False)
    if len(summary.skipped) > findings.SKIPS_SHOWN:
        console.print(f"  … and {len(summary.skipped) - findings.SKIPS_SHOWN} more skipped")


def register(app: typer.Typer) -> None:
    """Add ``findings`` and ``match`` to the ``medfleet vulns`` app."""
    app.command("findings")(findings_command)
    app.command("match")(match_command)
