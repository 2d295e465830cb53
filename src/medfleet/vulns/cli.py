"""``medfleet vulns``: SBOMs, advisories, findings, VEX, exposure, hospital notices, deadlines.

Each part of the domain registers its own commands; this module only puts them under one app.
"""

from __future__ import annotations

import typer

from medfleet.vulns import (
    advisory_cli,
    deadline_cli,
    exposure_cli,
    findings_cli,
    sbom_cli,
    vex_cli,
)

app = typer.Typer(
    help="Cybersecurity: SBOMs, advisories, findings, VEX, exposure, notices, patch deadlines.",
    no_args_is_help=True,
)
for part in (sbom_cli, advisory_cli, findings_cli, vex_cli, exposure_cli, deadline_cli):
    part.register(app)
