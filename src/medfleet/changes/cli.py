"""``medfleet changes``: change requests and their electronic signatures."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from medfleet.accounts.auth import authenticate
from medfleet.accounts.signatures import parse_meaning, signatures_for
from medfleet.changes import assessment_cli, service, workflow_cli
from medfleet.changes.render import change_dict, render_text
from medfleet.cli.context import DataDir, Json, UserOption, acting_as, opened
from medfleet.cli.output import console, emit_json, handle_errors, read_secret, report
from medfleet.db.engine import transaction

app = typer.Typer(help="Change requests and e-signatures.", no_args_is_help=True)


@app.command("create")
@handle_errors
def create_command(
    title: str,
    user: UserOption,
    description: Annotated[str, typer.Option("--description", "-m")] = "",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Open a change request authored by --user."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        change = service.create(session, runtime.audit, principal, title, description)
        document = change_dict(change, [])
    report(as_json, document, f"opened {document['key']}: {document['title']}")


@app.command("edit")
@handle_errors
def edit_command(
    key: str,
    user: UserOption,
    title: Annotated[str | None, typer.Option("--title")] = None,
    description: Annotated[str | None, typer.Option("--description", "-m")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Edit a change request; its existing signatures become invalid."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        change = service.edit(session, runtime.audit, principal, key, title, description)
        document = change_dict(change, signatures_for(session, change, runtime.trusted_keys()))
    report(as_json, document, f"edited {document['key']}")


@app.command("show")
@handle_errors
def show_command(
    key: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Show a change request with every signature and whether it is still valid."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        change = service.get(session, principal, key)
        signatures = signatures_for(session, change, runtime.trusted_keys())
        document, text = change_dict(change, signatures), render_text(change, signatures)
    if as_json:
        emit_json(document)
    else:
        console.print(Panel(Text(text), title=str(document["key"]), expand=False))


@app.command("list")
@handle_errors
def list_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """List change requests, newest first."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        documents = [
            change_dict(c, signatures_for(session, c, runtime.trusted_keys()))
            for c in service.list_all(session, principal)
        ]
    if as_json:
        emit_json(documents)
        return
    for document in documents:
        console.print(f"{document['key']}  {document['title']}", highlight=False)


@app.command("sign")
@handle_errors
def sign_command(
    key: str,
    user: UserOption,
    meaning: Annotated[str, typer.Option(help="authored, reviewed, approved or released")],
    comment: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """E-sign a change request; your password is asked again for every signature."""
    chosen = parse_meaning(meaning)
    with opened(data_dir) as runtime:
        password = read_secret(
            f"password for {user} (signing {key} as {chosen.value})",
            "MEDFLEET_PASSWORD",
        )
        signer = authenticate(runtime, user, password, purpose="esignature")
        with transaction(runtime.sessions) as session:
            service.sign(session, runtime.audit, signer, key, chosen, comment)
            change = service.get(session, signer, key)
            document = change_dict(change, signatures_for(session, change, runtime.trusted_keys()))
    report(as_json, document, f"signed {document['key']} as {chosen.value}")


app.command("classify")(workflow_cli.classify_command)
app.command("move")(workflow_cli.move_command)
app.command("link-problem")(workflow_cli.link_problem_command)
app.command("item-add")(workflow_cli.item_add_command)
app.command("items")(workflow_cli.items_command)
app.add_typer(workflow_cli.problem_app, name="problem")
app.command("answer")(assessment_cli.answer_command)
app.command("unanswer")(assessment_cli.unanswer_command)
app.command("questions")(assessment_cli.questions_command)
app.command("assess")(assessment_cli.assess_command)
app.command("sign-assessment")(assessment_cli.sign_assessment_command)
app.command("pccp-register")(assessment_cli.pccp_register_command)
app.command("evaluate")(assessment_cli.evaluate_command)
app.command("clearance")(assessment_cli.clearance_command)
app.command("memo")(assessment_cli.memo_command)
