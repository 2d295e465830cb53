"""``medfleet risk``: ISO 14971 risk file: matrix, hazards, situations, controls, deltas.

Changes are always proposed within a change request (``add-hazard CR-1 ...``, ``modify CR-1
HS-2 --severity critical``, ``remove CR-1 RC-3``, ``withdraw CR-1 HS-2``) and reach the file
when that change request is released. Severity and probability are given as a level number or
as the matrix's level name. Every command prints one JSON document with ``--json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.risk import proposals, service
from medfleet.risk.errors import InvalidMatrixError
from medfleet.risk.items import ItemKind
from medfleet.risk.matrix import Acceptability, RiskMatrix
from medfleet.risk.render import TABLE_HEADERS, record_dict, render_html, table_rows
from medfleet.runtime import Runtime

app = typer.Typer(
    help="ISO 14971 risk file: matrix, hazards, situations, controls, deltas.", no_args_is_help=True
)
matrix_app = typer.Typer(help="The risk matrix.", no_args_is_help=True)
app.add_typer(matrix_app, name="matrix")

Cr = Annotated[str, typer.Argument(help="The change request, e.g. CR-1.")]
Key = Annotated[str, typer.Argument(help="The item, e.g. H-1, HS-2 or RC-3.")]
Text = Annotated[str | None, typer.Option()]
LevelOpt = Annotated[str | None, typer.Option(help="1-5 or the matrix's level name.")]
Situations = Annotated[list[str] | None, typer.Option("--situation", help="HS-n; repeat.")]
KIND_HELP = "inherent_safety_by_design, protective_measure or information_for_safety"
Proposal = Callable[[Session, Runtime, Principal, RiskMatrix], object]


def _levels(matrix: RiskMatrix, options: dict[str, str | None]) -> dict[str, Any]:
    """Options given, with severity/probability names turned into levels."""
    fields: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        if name.endswith("severity"):
            fields[name] = matrix.severity_level(value)
        elif name.endswith("probability"):
            fields[name] = matrix.probability_level(value)
        else:
            fields[name] = value
    return fields


def _propose(
    data_dir: Path | None, user: str, as_json: bool, cr: str, action: str, proposal: Proposal
) -> None:
    with acting_as(data_dir, user) as (runtime, principal, session):
        matrix = service.get_matrix(session, principal)
        proposal(session, runtime, principal, matrix)
        view = proposals.delta_view(session, principal, cr)
    report(as_json, view.as_dict(), f"{view.change_request}: {action}\n{_delta_text(view)}")


def _shown(value: int | bool | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _delta_text(view: proposals.DeltaView) -> str:
    lines = [
        f"risk delta of {view.change_request} ({view.state}, {len(view.delta.entries)} entries)"
    ]
    for entry in view.delta.entries:
        item = entry.after or entry.before
        label = getattr(item, "title", None) or getattr(item, "harm", "")
        lines.append(f"  {entry.action.value:<9} {entry.key:<6} {label}")
    for s in view.analysis.situations:
        lines.append(
            f"  situation {s.key}: severity {_shown(s.severity_before)} -> "
            f"{_shown(s.severity_after)}{' (significant harm)' if s.significant_harm else ''}; "
            f"mitigated {_shown(s.mitigated_before)} -> {_shown(s.mitigated_after)}"
        )
    lines += [
        f"  control {c.key}: {c.action.value}, {c.kind.label}{', redundant' if c.redundant else ''}"
        for c in view.analysis.controls
    ]
    lines += [f"  stale (propose again): {k}" for k in view.stale]
    lines += [f"  problem: {p}" for p in view.analysis.problems_after]
    return "\n".join(lines)


@matrix_app.command("show")
@handle_errors
def matrix_show(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """Show the risk matrix (the default until one is set)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        matrix = service.get_matrix(session, principal)
    if as_json:
        emit_json(matrix.as_dict())
        return
    table = Table("S \\ P", *(f"{n} {name}" for n, name in enumerate(matrix.probability_names, 1)))
    for level in range(5, 0, -1):
        table.add_row(
            f"{level} {matrix.severity_name(level)}",
            *("ok" if v is Acceptability.ACCEPTABLE else "NOT OK" for v in matrix.table[level - 1]),
        )
    console.print(table)
    console.print(f"significant harm from severity {matrix.significant_harm_from}")


@matrix_app.command("set")
@handle_errors
def matrix_set(
    user: UserOption,
    source: Annotated[
        Path | None, typer.Option("--from", help="JSON as printed by 'matrix show --json'.")
    ] = None,
    significant_harm_from: Annotated[int | None, typer.Option(min=1, max=5)] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Configure the matrix from a JSON file and/or change significant_harm_from."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        document = service.get_matrix(session, principal).as_dict()
        if source is not None:
            try:
                document = json.loads(source.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InvalidMatrixError(f"cannot read {source}: {exc}") from None
            if not isinstance(document, dict):
                raise InvalidMatrixError(f"{source} does not hold a JSON object")
        if significant_harm_from is not None:
            document["significant_harm_from"] = significant_harm_from
        matrix = service.set_matrix(
            session, runtime.audit, principal, RiskMatrix.from_dict(document)
        )
    report(as_json, matrix.as_dict(), "risk matrix configured")


@app.command("list")
@handle_errors
def list_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """The risk management table of the released file, with its open problems."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        document = service.export_file(session, principal)
    if as_json:
        emit_json(document["items"])
        return
    for row in table_rows(document):
        lines = [f"{row[1]}  [{row[0]}]"]
        lines += [
            f"  {label}: {cell}" for label, cell in zip(TABLE_HEADERS[2:], row[2:], strict=True)
        ]
        console.print("\n".join(lines), markup=False, highlight=False)
    for item in document["items"]:
        if item["kind"] == "hazard" and not item["situations"]:
            console.print(f"{item['key']} {item['title']} (no hazardous situation)", markup=False)
    for problem in document["problems"]:
        console.print(f"problem: {problem}", markup=False, highlight=False)


@app.command("show")
@handle_errors
def show_command(
    key: Key, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """One item of the released file with its version and risk facts."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        record = service.get_item(session, principal, key)
        file = service.current_file(session, principal.org_id)
        document = record_dict(record, file, service.matrix_for(session, principal.org_id))
    text = "\n".join(f"{name}: {value}" for name, value in document.items())
    report(as_json, document, text)


@app.command("export")
@handle_errors
def export_command(
    user: UserOption,
    html: Annotated[Path | None, typer.Option(help="Also write the table as HTML here.")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """The whole risk file as JSON (matrix, items, problems); optionally an HTML table."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        document = service.export_file(session, principal)
    if html is not None:
        html.write_text(render_html(document), encoding="utf-8")
    if as_json or html is None:
        emit_json(document)
    else:
        console.print(f"wrote {html}", markup=False, highlight=False)


@app.command("add-hazard")
@handle_errors
def add_hazard(
    cr: Cr,
    user: UserOption,
    title: Annotated[str, typer.Option()],
    description: Text = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Propose a new hazard in a change request."""
    fields = {"title": title, "description": description}
    _propose(
        data_dir,
        user,
        as_json,
        cr,
        "hazard proposed",
        lambda s, rt, p, m: proposals.propose_addition(
            s, rt.audit, p, cr, ItemKind.HAZARD, _levels(m, fields)
        ),
    )


@app.command("add-situation")
@handle_errors
def add_situation(
    cr: Cr,
    user: UserOption,
    hazard: Annotated[str, typer.Option(help="H-n")],
    sequence: Annotated[str, typer.Option(help="The sequence of events.")],
    harm: Annotated[str, typer.Option()],
    severity: Annotated[str, typer.Option(help="Before risk control: 1-5 or name.")],
    probability: Annotated[str, typer.Option(help="Before risk control: 1-5 or name.")],
    residual_severity: LevelOpt = None,
    residual_probability: LevelOpt = None,
    benefit_risk: Text = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Propose a new hazardous situation in a change request."""
    fields = {
        "hazard": hazard, "sequence": sequence, "harm": harm, "severity": severity,
        "probability": probability, "residual_severity": residual_severity,
        "residual_probability": residual_probability, "benefit_risk": benefit_risk,
    }  # fmt: skip
    _propose(
        data_dir,
        user,
        as_json,
        cr,
        "situation proposed",
        lambda s, rt, p, m: proposals.propose_addition(
            s, rt.audit, p, cr, ItemKind.SITUATION, _levels(m, fields)
        ),
    )


@app.command("add-control")
@handle_errors
def add_control(
    cr: Cr,
    user: UserOption,
    title: Annotated[str, typer.Option()],
    kind: Annotated[str, typer.Option(help=KIND_HELP)],
    situation: Situations = None,
    description: Text = None,
    verification: Annotated[
        str | None, typer.Option(help="How implementation and effectiveness are verified.")
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Propose a new risk control acting on one or more situations."""
    fields = {"title": title, "kind": kind, "description": description,
              "verification": verification}  # fmt: skip

    def proposal(s: Session, rt: Runtime, p: Principal, m: RiskMatrix) -> object:
        values = {**_levels(m, fields), "situations": situation or []}
        return proposals.propose_addition(s, rt.audit, p, cr, ItemKind.CONTROL, values)

    _propose(data_dir, user, as_json, cr, "control proposed", proposal)


@app.command("modify")
@handle_errors
def modify(
    cr: Cr,
    key: Key,
    user: UserOption,
    title: Text = None,
    description: Text = None,
    hazard: Text = None,
    sequence: Text = None,
    harm: Text = None,
    severity: LevelOpt = None,
    probability: LevelOpt = None,
    residual_severity: LevelOpt = None,
    residual_probability: LevelOpt = None,
    clear_residual: Annotated[bool, typer.Option(help="Drop the residual estimate.")] = False,
    benefit_risk: Text = None,
    kind: Annotated[str | None, typer.Option(help=KIND_HELP)] = None,
    situation: Situations = None,
    verification: Text = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Propose changed fields of an item (only the options given change)."""
    options = {
        "title": title, "description": description, "hazard": hazard, "sequence": sequence,
        "harm": harm, "severity": severity, "probability": probability,
        "residual_severity": residual_severity, "residual_probability": residual_probability,
        "benefit_risk": benefit_risk, "kind": kind, "verification": verification,
    }  # fmt: skip

    def proposal(s: Session, rt: Runtime, p: Principal, m: RiskMatrix) -> object:
        changes: dict[str, Any] = _levels(m, options)
        if situation:
            changes["situations"] = situation
        if clear_residual:
            changes["residual_severity"] = changes["residual_probability"] = None
        return proposals.propose_modification(s, rt.audit, p, cr, key, changes)

    _propose(data_dir, user, as_json, cr, f"{key} modification proposed", proposal)


@app.command("remove")
@handle_errors
def remove(
    cr: Cr, key: Key, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Propose removing an item (one added in the same change request just disappears)."""
    _propose(
        data_dir,
        user,
        as_json,
        cr,
        f"{key} removal proposed",
        lambda s, rt, p, _m: proposals.propose_removal(s, rt.audit, p, cr, key),
    )


@app.command("withdraw")
@handle_errors
def withdraw(
    cr: Cr, key: Key, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Withdraw the change request's proposal for an item."""
    _propose(
        data_dir,
        user,
        as_json,
        cr,
        f"{key} withdrawn",
        lambda s, rt, p, _m: proposals.withdraw(s, rt.audit, p, cr, key),
    )


@app.command("delta")
@handle_errors
def delta(cr: Cr, user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """A change request's risk delta with its analysis (what the assessment reads)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        view = proposals.delta_view(session, principal, cr)
    report(as_json, view.as_dict(), _delta_text(view))
