"""``medfleet change classify|move|items|item-add`` and ``medfleet change problem ...``.

Registered on the ``medfleet change`` group by ``changes/cli.py``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from medfleet.accounts.signatures import signatures_for
from medfleet.changes import items, problems, workflow
from medfleet.changes.render import change_dict
from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report

problem_app = typer.Typer(help="Problem reports (IEC 62304 §9).", no_args_is_help=True)


@handle_errors
def classify_command(
    key: str,
    user: UserOption,
    change_class: Annotated[
        str, typer.Option("--class", help="minor, major, cybersecurity or ai_model")
    ],
    model: Annotated[str, typer.Option("--model", help="the device model it changes")],
    item: Annotated[list[str], typer.Option("--item", help="a software item it touches")],
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Classify a change: class, device model and the software items it touches."""
    chosen = workflow.parse_class(change_class)
    with acting_as(data_dir, user) as (runtime, principal, session):
        change = workflow.classify(session, runtime.audit, principal, key, chosen, model, item)
        document = change_dict(change, signatures_for(session, change, runtime.trusted_keys()))
    report(
        as_json,
        document,
        f"{document['key']}: {document['change_class']} change of {document['device_model']}, "
        f"safety class {document['safety_class']}",
    )


@handle_errors
def move_command(
    key: str,
    state: Annotated[str, typer.Argument(help="the state to move to")],
    user: UserOption,
    reason: Annotated[str, typer.Option("--reason", "-m")] = "",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Move a change request to another state (its gate lists what is missing)."""
    target = workflow.parse_state(state)
    with acting_as(data_dir, user) as (runtime, principal, session):
        change = workflow.move(
            session, runtime.audit, principal, key, target, runtime.trusted_keys(), reason
        )
        document = change_dict(change, signatures_for(session, change, runtime.trusted_keys()))
    report(as_json, document, f"{document['key']} is now {document['state']}")


@handle_errors
def item_add_command(
    name: str,
    user: UserOption,
    safety_class: Annotated[str, typer.Option("--safety-class", help="A, B or C")],
    description: Annotated[str, typer.Option("--description", "-m")] = "",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Register a software item with its IEC 62304 safety class."""
    chosen = items.parse_safety_class(safety_class)
    with acting_as(data_dir, user) as (runtime, principal, session):
        item = items.register(session, runtime.audit, principal, name, chosen, description)
        document = {"name": item.name, "safety_class": item.safety_class}
    report(as_json, document, f"registered {item.name} (class {item.safety_class})")


@handle_errors
def items_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """List the software items and their safety classes."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        documents = [
            {"name": i.name, "safety_class": i.safety_class, "description": i.description}
            for i in items.list_items(session, principal)
        ]
    if as_json:
        emit_json(documents)
        return
    for document in documents:
        console.print(f"{document['name']}  class {document['safety_class']}", highlight=False)


@problem_app.command("create")
@handle_errors
def problem_create_command(
    title: str,
    user: UserOption,
    source: Annotated[
        str,
        typer.Option(
            help="complaint, incident, service_log, vulnerability, enhancement, ai_model_retraining"
        ),
    ],
    criticality: Annotated[str, typer.Option(help="low, medium, high, safety_critical")],
    affects: Annotated[
        list[str] | None, typer.Option("--affects", help="a released version affected")
    ] = None,
    description: Annotated[str, typer.Option("--description", "-m")] = "",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Record a problem report."""
    new = problems.NewProblem(title, source, criticality, description, affects or [])
    with acting_as(data_dir, user) as (runtime, principal, session):
        document = problems.create(session, runtime.audit, principal, new).as_dict()
    report(as_json, document, f"recorded {document['key']}: {document['title']}")


@problem_app.command("investigate")
@handle_errors
def problem_investigate_command(
    key: str,
    user: UserOption,
    investigation: Annotated[str | None, typer.Option("--investigation", "-m")] = None,
    state: Annotated[str | None, typer.Option(help="open, investigating or closed")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Write the investigation and/or move the report (closing needs the investigation)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        report_row = problems.investigate(
            session, runtime.audit, principal, key, investigation, state
        )
        document = report_row.as_dict()
    report(as_json, document, f"{document['key']} is {document['state']}")


@problem_app.command("show")
@handle_errors
def problem_show_command(
    key: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Show a problem report."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        document = problems.get(session, principal, key).as_dict()
    text = (
        f"{document['key']}: {document['title']} [{document['state']}]\n"
        f"source {document['source']}, criticality {document['criticality']}, affects "
        f"{', '.join(document['affected_versions']) or '-'}\n\n{document['description']}\n\n"
        f"Investigation: {document['investigation'] or '(none yet)'}"
    )
    report(as_json, document, text)


@problem_app.command("list")
@handle_errors
def problem_list_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """List problem reports, newest first."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        documents = [r.as_dict() for r in problems.list_all(session, principal)]
    if as_json:
        emit_json(documents)
        return
    for d in documents:
        console.print(
            f"{d['key']}  [{d['state']}] {d['criticality']:<15} {d['title']}", highlight=False
        )


@handle_errors
def link_problem_command(
    key: str,
    problem: Annotated[str, typer.Argument(help="the problem report it addresses (PR-n)")],
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Record that a change request addresses a problem report."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        change = problems.link(session, runtime.audit, principal, key, problem)
        document = change_dict(change, signatures_for(session, change, runtime.trusted_keys()))
    report(as_json, document, f"{document['key']} addresses {problem.upper()}")
