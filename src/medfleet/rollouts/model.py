"""The pure core of campaigns: their states and transitions, urgency and kind.

No I/O here. A campaign goes draft → scheduled → running ⇄ paused → completed, and can be
aborted from every state that is not final. ``next_state`` is the only way a campaign's state
changes; anything not in ``TRANSITIONS`` is refused with ``CampaignStateError`` naming what is
allowed. The policy (phases, thresholds, rate, abort criteria) lives in
``medfleet.rollouts.policy``, the target selection in ``medfleet.rollouts.selection``.
"""

from __future__ import annotations

import enum

from medfleet.rollouts.errors import CampaignStateError


class CampaignState(enum.StrEnum):
    """Where a campaign stands."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ABORTED = "aborted"


class CampaignAction(enum.StrEnum):
    """What moves a campaign from one state to the next."""

    SCHEDULE = "schedule"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    COMPLETE = "complete"
    ABORT = "abort"


class Urgency(enum.StrEnum):
    """How a campaign treats maintenance windows.

    ``routine`` installs inside the sites' maintenance windows only; ``critical`` may install
    out of cycle at sites that consented to it (and inside windows everywhere else). Downloads
    are allowed outside windows either way.
    """

    ROUTINE = "routine"
    CRITICAL = "critical"


class CampaignKind(enum.StrEnum):
    """An update moves devices up to a release; a rollback returns them to an earlier one."""

    UPDATE = "update"
    ROLLBACK = "rollback"


_S, _A = CampaignState, CampaignAction
TRANSITIONS: dict[tuple[CampaignState, CampaignAction], CampaignState] = {
    (_S.DRAFT, _A.SCHEDULE): _S.SCHEDULED,
    (_S.DRAFT, _A.ABORT): _S.ABORTED,
    (_S.SCHEDULED, _A.START): _S.RUNNING,
    (_S.SCHEDULED, _A.ABORT): _S.ABORTED,
    (_S.RUNNING, _A.PAUSE): _S.PAUSED,
    (_S.RUNNING, _A.COMPLETE): _S.COMPLETED,
    (_S.RUNNING, _A.ABORT): _S.ABORTED,
    (_S.PAUSED, _A.RESUME): _S.RUNNING,
    (_S.PAUSED, _A.ABORT): _S.ABORTED,
}
"""Every allowed transition; anything else is refused."""

TERMINAL_STATES = frozenset({CampaignState.COMPLETED, CampaignState.ABORTED})
"""States nothing leaves."""

ACTIVE_STATES = frozenset({CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED})
"""States in which a campaign holds its devices: a device in one active campaign is busy for
every other campaign (the planner excludes it)."""

EDITABLE_STATES = frozenset({CampaignState.DRAFT})
"""States in which selection and policy may still change."""


def allowed_actions(state: CampaignState) -> list[CampaignAction]:
    """The actions allowed in ``state``, in the order of ``CampaignAction`` (empty when final)."""
    return [action for action in CampaignAction if (state, action) in TRANSITIONS]


def next_state(state: CampaignState, action: CampaignAction) -> CampaignState:
    """The state ``action`` leads to from ``state``.

    Raises:
        CampaignStateError: the action is not allowed in this state (naming what is).
    """
    target = TRANSITIONS.get((state, action))
    if target is None:
        allowed = [a.value for a in allowed_actions(state)]
        hint = f"; allowed: {', '.join(allowed)}" if allowed else "; it is final"
        raise CampaignStateError(f"cannot {action.value} a {state.value} campaign{hint}")
    return target


def check_editable(state: CampaignState) -> None:
    """Refuse a change of selection or policy outside draft.

    Raises:
        CampaignStateError: the campaign is no longer a draft.
    """
    if state not in EDITABLE_STATES:
        raise CampaignStateError(
            f"a {state.value} campaign cannot be changed; only drafts can (abort it and "
            "create a new one)"
        )
