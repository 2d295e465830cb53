"""``medfleet trace``: Requirements, tests, JUnit verification runs, gaps and the trace matrix.

``gaps`` exits with 1 (a check failed) when there is any gap, so a pipeline can stop on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID,
    console,
    emit_json,
    fail,
    handle_errors,
    report,
)
from medfleet.trace import links, reports, runs
from medfleet.trace.cli_requirements import app as requirements_app
from medfleet.trace.matrix import to_csv, to_html
from medfleet.trace.model import TraceScope, split_keys
from medfleet.trace.render import trace_test_dict

app = typer.Typer(
    help="Requirements, tests, JUnit verification runs, gaps and the trace matrix.",
    no_args_is_help=True,
)
app.add_typer(requirements_app, name="req")

BuildOption = Annotated[str, typer.Option("--build", "-b", help="The build id.")]
KeysOption = Annotated[
    list[str] | None, typer.Option(help="Repeat, or separate with commas.", show_default=False)
]


def _keys(values: list[str] | None) -> list[str]:
    return [key for value in values or [] for key in split_keys(value)]


@app.command("link")
@handle_errors
def link_command(
    requirement: str, test: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Link TEST (classname::name) to REQUIREMENT."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        req, trace_test, created = links.link_test(
            session, runtime.audit, principal, requirement, test
        )
        document = {"requirement": req.key, "test": trace_test.key, "created": created}
    report(as_json, document, f"{'linked' if created else 'already linked'}: {req.key} <- {test}")


@app.command("unlink")
@handle_errors
def unlink_command(
    requirement: str, test: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Remove the link between REQUIREMENT and TEST."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        links.unlink_test(session, runtime.audit, principal, requirement, test)
    report(as_json, {"requirement": requirement, "test": test}, "unlinked")


@app.command("link-control")
@handle_errors
def link_control_command(
    control: str,
    requirement: str,
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Link risk control CONTROL (RC-n) to the REQUIREMENT implementing it."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        key, req, created = links.link_control(
            session, runtime.audit, principal, control, requirement
        )
        document = {"control": key, "requirement": req.key, "created": created}
    report(as_json, document, f"{'linked' if created else 'already linked'}: {key} -> {req.key}")


@app.command("unlink-control")
@handle_errors
def unlink_control_command(
    control: str,
    requirement: str,
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Remove the link between CONTROL and REQUIREMENT."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        links.unlink_control(session, runtime.audit, principal, control, requirement)
    report(as_json, {"control": control, "requirement": requirement}, "unlinked")


@app.command("level")
@handle_errors
def level_command(
    test: str,
    level: Annotated[str, typer.Argument(help="unit, integration or system")],
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Record the level of TEST."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        document = trace_test_dict(
            session, links.set_level(session, runtime.audit, principal, test, level)
        )
    report(as_json, document, f"{document['test']}: {document['level']}")


@app.command("tests")
@handle_errors
def list_tests_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """List tests with their level and requirements."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        documents = [trace_test_dict(session, t) for t in links.list_tests(session, principal)]
    if as_json:
        emit_json(documents)
        return
    for d in documents:
        line = f"{d['test']}  [{d['level'] or 'level?'}]  {' '.join(d['requirements'])}"
        console.print(line, highlight=False, markup=False)


@app.command("import-junit")
@handle_errors
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    build: BuildOption,
    user: UserOption,
    change: Annotated[str | None, typer.Option("--change", "-c")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Import a JUnit XML FILE as a verification run of --build (same file again: same run)."""
    data = file.read_bytes()
    with acting_as(data_dir, user) as (runtime, principal, session):
        outcome = runs.import_run(session, runtime.audit, principal, data, build, file.name, change)
        document = {**runs.run_dict(outcome.run), "created": outcome.created}
    verb = "imported" if outcome.created else "already imported"
    report(
        as_json,
        document,
        f"{verb} run {document['id']} for build {document['build_id']}: "
        f"{document['passed']} passed, {document['failed']} failed, "
        f"{document['error']} error, {document['skipped']} skipped",
    )


@app.command("runs")
@handle_errors
def runs_command(
    user: UserOption,
    build: Annotated[str | None, typer.Option("--build", "-b")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List verification runs, newest first."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        documents = [runs.run_dict(r) for r in runs.list_runs(session, principal, build)]
    if as_json:
        emit_json(documents)
        return
    for d in documents:
        console.print(
            f"run {d['id']}  {d['build_id']}  {d['imported_at']}  {d['passed']}/{d['total']} "
            f"passed  {d['file_name']}",
            highlight=False,
            markup=False,
        )


@app.command("gaps")
@handle_errors
def gaps_command(
    build: BuildOption,
    user: UserOption,
    requirements: KeysOption = None,
    controls: KeysOption = None,
    tests: KeysOption = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Traceability gaps on --build (all, or within the given scope); exit 1 when any."""
    scoped = bool(requirements or controls or tests)
    scope = (
        TraceScope(
            frozenset(_keys(requirements)), frozenset(_keys(controls)), frozenset(_keys(tests))
        )
        if scoped
        else None
    )
    with acting_as(data_dir, user) as (_runtime, principal, session):
        found = reports.gaps_for(session, principal, build, scope)
    if as_json:
        emit_json({"build_id": build, "ok": not found, "gaps": [g.as_dict() for g in found]})
    elif found:
        for gap in found:
            console.print(f"[{gap.kind.value}] {gap.message}", highlight=False, markup=False)
    else:
        console.print(f"no gaps on build {build}", highlight=False, markup=False)
    if found:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("regression")
@handle_errors
def regression_command(
    user: UserOption,
    safety_class: Annotated[
        str, typer.Option("--safety-class", help="A, B or C (not with --change)")
    ] = "",
    requirements: KeysOption = None,
    controls: KeysOption = None,
    change: Annotated[
        str | None,
        typer.Option("--change", "-c", help="What this CR touches, at its safety class."),
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """The regression set for touched requirements/controls (or a change request's)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        if change is not None:
            if requirements or controls or safety_class:
                fail(
                    "--change takes what the CR touches and its safety class; "
                    "do not add --requirements, --controls or --safety-class",
                    EXIT_INVALID,
                    as_json,
                )
            found = reports.regression_for_change(session, principal, change).regression
        else:
            if not safety_class:
                fail("give --safety-class (A, B or C) or --change", EXIT_INVALID, as_json)
            found = reports.regression_for(
                session, principal, _keys(requirements), _keys(controls), safety_class
            )
    if as_json:
        emit_json(found.as_dict())
        return
    console.print(f"class {found.safety_class.value}: {len(found.tests)} test(s)", markup=False)
    for test in found.tests:
        console.print(f"{test.key}: {'; '.join(test.reasons)}", highlight=False, markup=False)


@app.command("matrix")
@handle_errors
def matrix_command(
    build: BuildOption,
    user: UserOption,
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False)],
    format: Annotated[str, typer.Option("--format", "-f", help="html or csv")] = "html",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Write the trace matrix of --build as HTML or CSV to --output."""
    if format not in ("html", "csv"):
        fail(f"--format must be html or csv, not {format!r}", EXIT_INVALID, as_json)
    with acting_as(data_dir, user) as (runtime, principal, session):
        matrix = reports.matrix_for(session, principal, build, runtime.clock.now())
    output.write_text(to_csv(matrix) if format == "csv" else to_html(matrix), encoding="utf-8")
    document = {"build_id": build, "file": str(output), "rows": len(matrix.rows)}
    report(as_json, {**document, "gaps": len(matrix.gaps)}, f"wrote {output}")
