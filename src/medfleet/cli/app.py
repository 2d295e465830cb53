"""The ``medfleet`` command: the sub-apps of every domain under one Typer app."""

from __future__ import annotations

import typer

from medfleet import __version__
from medfleet.accounts.cli import app as accounts_app
from medfleet.audit.cli import app as audit_app
from medfleet.changes.cli import app as changes_app
from medfleet.cli.init import init_command
from medfleet.cli.serve import serve_command
from medfleet.cli.worker import worker_command
from medfleet.db.cli import app as db_app
from medfleet.fleet.bundle_cli import app as bundle_app
from medfleet.fleet.cli import app as fleet_app
from medfleet.fleet.models_cli import app as models_app
from medfleet.fleet.reports_cli import app as reports_app
from medfleet.releases.cli import app as releases_app
from medfleet.risk.cli import app as risk_app
from medfleet.rollouts.acceptance_cli import app as acceptance_app
from medfleet.rollouts.cli import app as campaign_app
from medfleet.rollouts.window_cli import app as windows_app
from medfleet.sim.cli import demo_command
from medfleet.trace.cli import app as trace_app
from medfleet.vulns.cli import app as vulns_app

app = typer.Typer(
    name="medfleet",
    help="Regulated software updates for medical-device fleets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("init")(init_command)
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.command("demo")(demo_command)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(accounts_app, name="accounts")
app.add_typer(changes_app, name="change")
app.add_typer(changes_app, name="changes", hidden=True)  # the name before issue 4
app.add_typer(risk_app, name="risk")
app.add_typer(trace_app, name="trace")
app.add_typer(releases_app, name="release")
app.add_typer(fleet_app, name="devices")
app.add_typer(bundle_app, name="bundle")
app.add_typer(models_app, name="models")
app.add_typer(windows_app, name="windows")
app.add_typer(campaign_app, name="campaign")
app.add_typer(reports_app, name="reports")
app.add_typer(acceptance_app, name="acceptance")
app.add_typer(vulns_app, name="vulns")


@app.command("version")
def version_command() -> None:
    """Print the medfleet version."""
    print(__version__)


def main() -> None:
    """Console-script entry point."""
    app()
