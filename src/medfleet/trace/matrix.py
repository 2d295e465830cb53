"""The trace matrix of a build: requirement → risk controls → tests → result, with the gaps.

``build_matrix`` reads; ``to_csv`` and ``to_html`` render. The HTML is one self-contained page
(inline style, no scripts, nothing fetched) from a Jinja2 template with autoescaping, so text
from requirements and test names can never become markup. In CSV, a cell that a spreadsheet
would read as a formula (starting with ``= + - @``, tab or carriage return) is prefixed with an
apostrophe.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.audit.model import canonical_time
from medfleet.trace.coverage import (
    control_requirements,
    latest_results,
    requirement_tests,
    tests_by_key,
)
from medfleet.trace.matrix_html import TEMPLATE
from medfleet.trace.model import Gap, GapKind, TraceData, check_build_id, find_gaps
from medfleet.trace.tables import Requirement, RequirementVersion

CSV_COLUMNS = (
    "requirement",
    "version",
    "kind",
    "title",
    "software_item",
    "controls",
    "test",
    "level",
    "result",
    "gaps",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class MatrixTest:
    """A test in a matrix row: its level and its result on the build (None: did not run)."""

    key: str
    level: str | None
    result: str | None


@dataclass(frozen=True)
class MatrixRow:
    """One current requirement, its controls and tests, and the gaps that concern it."""

    requirement: str
    version: int
    kind: str
    title: str
    software_item: str
    controls: tuple[str, ...]
    tests: tuple[MatrixTest, ...]
    gaps: tuple[Gap, ...]


@dataclass(frozen=True)
class TraceMatrix:
    """The whole matrix of a build, and every gap on it."""

    build_id: str
    generated_at: datetime
    rows: tuple[MatrixRow, ...]
    gaps: tuple[Gap, ...]

    @property
    def other_gaps(self) -> tuple[Gap, ...]:
        """Gaps not shown on a requirement row: controls without requirements, untraced tests."""
        shown = {gap for row in self.rows for gap in row.gaps}
        return tuple(gap for gap in self.gaps if gap not in shown)


def build_matrix(
    session: Session, org_id: int, build_id: str, controls: frozenset[str], now: datetime
) -> TraceMatrix:
    """The trace matrix of ``build_id`` over every current requirement and ``controls``.

    Raises:
        InvalidBuildError: malformed build id.
    """
    build = check_build_id(build_id)
    rows = session.execute(
        select(Requirement.key, RequirementVersion)
        .join(
            RequirementVersion,
            (RequirementVersion.requirement_id == Requirement.id)
            & (RequirementVersion.version == Requirement.current_version),
        )
        .where(Requirement.org_id == org_id, Requirement.retired.is_(False))
        .order_by(Requirement.key)
    ).all()
    req_tests = requirement_tests(session, org_id)
    ctl_reqs = control_requirements(session, org_id)
    results = latest_results(session, org_id, build)
    tests = tests_by_key(session, org_id)
    data = TraceData(
        requirements=frozenset(key for key, _ in rows),
        controls=controls,
        requirement_tests=req_tests,
        control_requirements=ctl_reqs,
        results={key: result.outcome for key, result in results.items()},
        build_id=build,
    )
    gaps = find_gaps(data)
    controls_by_requirement: dict[str, set[str]] = {}
    for control, requirements in ctl_reqs.items():
        for requirement in requirements:
            controls_by_requirement.setdefault(requirement, set()).add(control)
    requirement_gap_kinds = (GapKind.REQUIREMENT_WITHOUT_TEST, GapKind.REQUIREMENT_NOT_PASSING)
    matrix_rows = []
    for key, version in rows:
        linked_controls = sorted(controls_by_requirement.get(key, ()))
        row_gaps = tuple(
            gap
            for gap in gaps
            if (gap.subject == key and gap.kind in requirement_gap_kinds)
            or (gap.kind is GapKind.CONTROL_NOT_PASSING and gap.subject in linked_controls)
        )
        matrix_rows.append(
            MatrixRow(
                requirement=key,
                version=version.version,
                kind=version.kind,
                title=version.title,
                software_item=version.software_item,
                controls=tuple(linked_controls),
                tests=tuple(
                    MatrixTest(
                        test,
                        tests[test].level if test in tests else None,
                        results[test].outcome.value if test in results else None,
                    )
                    for test in sorted(req_tests.get(key, ()))
                ),
                gaps=row_gaps,
            )
        )
    return TraceMatrix(build, now, tuple(matrix_rows), tuple(gaps))


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(matrix: TraceMatrix) -> str:
    """CSV: one line per requirement and test (a requirement without tests gets one line),
    then one line per gap that belongs to no requirement row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in matrix.rows:
        base = [row.requirement, row.version, row.kind, row.title, row.software_item]
        controls = " ".join(row.controls)
        gaps = "; ".join(gap.message for gap in row.gaps)
        for test in row.tests or (MatrixTest("", None, None),):
            result = test.result or ("not run" if test.key else "")
            writer.writerow(
                [_cell(v) for v in (*base, controls, test.key, test.level, result, gaps)]
            )
    for gap in matrix.other_gaps:
        control = gap.subject if gap.kind is GapKind.CONTROL_WITHOUT_REQUIREMENT else ""
        untraced = gap.subject if gap.kind is GapKind.TEST_UNTRACED else ""
        writer.writerow(
            [_cell(v) for v in ("", "", "", "", "", control, untraced, "", "", gap.message)]
        )
    return out.getvalue()


def to_html(matrix: TraceMatrix, organization: str = "") -> str:
    """A self-contained HTML page of the matrix; rows with gaps and the gap list stand out."""
    return _environment.from_string(TEMPLATE).render(
        matrix=matrix,
        organization=organization,
        generated=canonical_time(matrix.generated_at),
    )
