"""``medfleet change answer|questions|assess|sign-assessment|pccp-register|evaluate|clearance``.

``assess`` prints the outcome per framework and the whole answer path, each answer with where
it came from; a question the path reaches that nobody answered is an error listing every such
question (exit code 3), never a default. Registered on ``medfleet change`` by ``cli.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from medfleet.accounts.auth import authenticate
from medfleet.accounts.signatures import parse_meaning, signatures_for
from medfleet.changes import fact_finding, plans, regulatory, service
from medfleet.changes.assessment.decide import open_questions
from medfleet.changes.errors import InvalidChangeRequestError
from medfleet.changes.memo_render import memo_html, memo_pdf
from medfleet.changes.regulatory_tables import AssessmentRecord
from medfleet.cli.context import DataDir, Json, UserOption, acting_as, opened
from medfleet.cli.output import (
    console,
    emit_json,
    handle_errors,
    read_secret,
    report,
)
from medfleet.db.engine import transaction

_YES = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}


def _yes_no(value: str) -> bool:
    try:
        return _YES[value.strip().lower()]
    except KeyError:
        raise InvalidChangeRequestError(f"answer yes or no, not {value!r}") from None


def _json_file(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InvalidChangeRequestError(f"cannot read {path}: {error}") from None
    if not isinstance(document, dict):
        raise InvalidChangeRequestError(f"{path} must hold one JSON object")
    return document


def record_dict(record: AssessmentRecord, signature_lines: list[str]) -> dict[str, Any]:
    """A recorded assessment as ``--json`` and the API show it."""
    return {
        "change_request": record.change.key,
        "assessment": record.number,
        "assessed_by": record.assessed_by.username,
        "assessed_at": record.assessed_at.isoformat(),
        "facts_sha256": record.facts_sha256,
        "outcome": {"fda": record.fda_outcome, "mdcg": record.mdcg_outcome},
        **record.document,
        "signature_lines": signature_lines,
    }


@handle_errors
def answer_command(
    key: str,
    question_id: Annotated[str, typer.Argument(help="e.g. fda-q4 (see 'change questions')")],
    value: Annotated[str, typer.Argument(help="yes or no")],
    user: UserOption,
    justification: Annotated[str, typer.Option("--justification", "-m")],
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Answer an assessment question the records leave open, with a written justification."""
    chosen = _yes_no(value)
    with acting_as(data_dir, user) as (runtime, principal, session):
        given = regulatory.answer(
            session, runtime.audit, principal, key, question_id, chosen, justification
        )
    report(as_json, given.as_dict(), f"{key.upper()} {question_id}: {value.lower()}")


@handle_errors
def unanswer_command(
    key: str,
    question_id: str,
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Withdraw an answer (for example one the records now decide)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        regulatory.withdraw_answer(session, runtime.audit, principal, key, question_id)
    report(as_json, {"withdrawn": question_id}, f"withdrew the answer to {question_id}")


@handle_errors
def questions_command(
    key: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """List the questions the assessment still needs an assessor to answer."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        change = service.get(session, principal, key)
        facts = fact_finding.facts_for(session, change)
        plan, evaluation = regulatory.pccp_inputs(session, change)
        asked = open_questions(
            facts,
            regulatory.stored_answers(session, change),
            regulatory.documented_since_clearance(session, change),
            plan,
            evaluation,
        )
    documents = [q.as_dict() for q in asked]
    if as_json:
        emit_json(documents)
        return
    for q in documents:
        console.print(f"{q['id']}: {q['text']}", highlight=False)
    if not documents:
        console.print("no open questions: run 'medfleet change assess'")


@handle_errors
def assess_command(
    key: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Run the regulatory assessment and record it: outcome and the whole answer path."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        record = regulatory.run(session, runtime.audit, principal, key)
        views = signatures_for(session, record, runtime.trusted_keys())
        document = record_dict(record, [v.line() for v in views])
    if as_json:
        emit_json(document)
        return
    table = Table("question", "answer", "source", "reason", title=f"{document['change_request']}")
    for framework in ("fda", "mdcg"):
        section = document[framework]
        for step in [*section.get("path", []), *section.get("cumulative_path", [])]:
            table.add_row(step["question_id"], step["answer"], step["source"], step["reason"])
    console.print(table)
    for framework, outcome in document["outcomes"].items():
        console.print(f"{framework}: [bold]{outcome}[/]")


@handle_errors
def sign_assessment_command(
    key: str,
    user: UserOption,
    meaning: Annotated[str, typer.Option(help="reviewed or approved")],
    comment: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """E-sign the latest recorded assessment (its memo); your password is asked again."""
    chosen = parse_meaning(meaning)
    with opened(data_dir) as runtime:
        password = read_secret(f"password for {user} (signing {key})", "MEDFLEET_PASSWORD")
        signer = authenticate(runtime, user, password, purpose="esignature")
        with transaction(runtime.sessions) as session:
            regulatory.sign(session, runtime.audit, signer, key, chosen, comment)
            record = regulatory.get_record(session, signer, key)
            views = signatures_for(session, record, runtime.trusted_keys())
            document = record_dict(record, [v.line() for v in views])
    report(as_json, document, f"signed {record_label(document)} as {chosen.value}")


def record_label(document: dict[str, Any]) -> str:
    """``CR-4 assessment 2``."""
    return f"{document['change_request']} assessment {document['assessment']}"


@handle_errors
def pccp_register_command(
    plan_file: Path, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Register a predetermined change control plan from a JSON file."""
    document = _json_file(plan_file)
    with acting_as(data_dir, user) as (runtime, principal, session):
        record = plans.register_plan(session, runtime.audit, principal, document)
        shown = {"name": record.name, "device_model": record.device_model, **record.document}
    report(as_json, shown, f"registered PCCP {record.name} for {record.device_model}")


@handle_errors
def evaluate_command(
    key: str,
    user: UserOption,
    plan: Annotated[str, typer.Option(help="the registered PCCP's name")],
    evaluation_file: Annotated[Path, typer.Option("--file", help="evaluation JSON")],
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Record an AI-model change's evaluation against a PCCP."""
    document = _json_file(evaluation_file)
    with acting_as(data_dir, user) as (runtime, principal, session):
        record = plans.record_evaluation(session, runtime.audit, principal, key, plan, document)
        shown = {"change_request": key.upper(), "plan": plan, **record.document}
    report(as_json, shown, f"recorded the evaluation of {key.upper()} against {plan}")


@handle_errors
def clearance_command(
    user: UserOption,
    model: Annotated[str, typer.Option(help="the device model")],
    reference: Annotated[str, typer.Option(help="the submission number, e.g. K251234")],
    version: Annotated[str, typer.Option(help="the software version cleared")],
    cleared_on: Annotated[str, typer.Option(help="date of the clearance, YYYY-MM-DD")],
    change: Annotated[str | None, typer.Option(help="the change request it cleared")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Record a clearance: documented changes before it no longer add up with new ones."""
    try:
        day = datetime.strptime(cleared_on, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidChangeRequestError(f"{cleared_on!r} is not a date YYYY-MM-DD") from None
    with acting_as(data_dir, user) as (runtime, principal, session):
        record = plans.record_clearance(
            session, runtime.audit, principal, model, reference, version, day, change
        )
        shown = {
            "reference": record.reference,
            "device_model": record.device_model,
            "version": record.version,
            "cleared_at": record.cleared_at.isoformat(),
        }
    report(as_json, shown, f"recorded clearance {record.reference} of {model} {version}")


@handle_errors
def memo_command(
    key: str,
    user: UserOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
    output_format: Annotated[str, typer.Option("--format", help="html or pdf")] = "html",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Write the latest assessment's memo, with its e-signatures, as HTML or PDF."""
    if output_format not in ("html", "pdf"):
        raise InvalidChangeRequestError(f"memo format is html or pdf, not {output_format!r}")
    with acting_as(data_dir, user) as (runtime, principal, session):
        record = regulatory.get_record(session, principal, key)
        html = memo_html(session, record, runtime.trusted_keys())
        label = f"{record.change.key} assessment {record.number}"
    data = memo_pdf(html) if output_format == "pdf" else html.encode()
    output.write_bytes(data)
    report(
        as_json,
        {"path": str(output), "format": output_format, "bytes": len(data)},
        f"wrote the memo of {label} to {output}",
    )
