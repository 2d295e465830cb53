"""Read-only traceability reports for a caller: gaps, a change's regression set, the matrix.

These check the caller (manufacturer staff only; hospital staff get ``TraceNotFoundError``)
and then call the organization-level functions other packages use directly.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.changes import service as changes
from medfleet.changes.scope import scope_of
from medfleet.trace.access import check_staff
from medfleet.trace.coverage import gaps, known_controls, regression_set
from medfleet.trace.matrix import TraceMatrix, build_matrix
from medfleet.trace.model import Gap, TraceScope
from medfleet.trace.regression import RegressionSet


def gaps_for(
    session: Session, principal: Principal, build_id: str, scope: TraceScope | None = None
) -> list[Gap]:
    """The gaps on ``build_id`` for the caller's organization (see ``coverage.gaps``).

    Raises:
        TraceNotFoundError: hospital staff; and the errors of ``coverage.gaps``.
    """
    check_staff(principal)
    return gaps(session, principal.org_id, build_id, scope)


@dataclass(frozen=True)
class ChangeRegression:
    """A change request's regression set and the requirement keys it was computed from."""

    change_request: str
    regression: RegressionSet


def regression_for_change(
    session: Session, principal: Principal, change_key: str
) -> ChangeRegression:
    """The regression set of change request ``change_key``: the tests of what it touches
    (``medfleet.changes.scope``: its requirement changes and the risk controls of its delta)
    plus the minimum for its safety class.

    Raises:
        TraceNotFoundError, ChangeRequestNotFoundError, InvalidChangeRequestError (not
        classified yet), and the errors of ``coverage.regression_set``.
    """
    check_staff(principal)
    change = changes.get(session, principal, change_key)
    scope = scope_of(session, change)
    return ChangeRegression(
        change.key,
        regression_set(
            session,
            principal.org_id,
            scope.requirements,
            scope.controls,
            scope.safety_class.value,
        ),
    )


def regression_for(
    session: Session,
    principal: Principal,
    requirements: Collection[str],
    controls: Collection[str],
    safety_class: str,
) -> RegressionSet:
    """The regression set for explicitly named requirements and controls.

    Raises:
        TraceNotFoundError and the errors of ``coverage.regression_set``.
    """
    check_staff(principal)
    return regression_set(session, principal.org_id, requirements, controls, safety_class)


def matrix_for(session: Session, principal: Principal, build_id: str, now: datetime) -> TraceMatrix:
    """The trace matrix of ``build_id`` over every current requirement and risk control,
    stamped as generated at ``now``.

    Raises:
        TraceNotFoundError: hospital staff.
        InvalidBuildError: malformed build id.
    """
    check_staff(principal)
    controls = frozenset(known_controls(session, principal.org_id))
    return build_matrix(session, principal.org_id, build_id, controls, now)
