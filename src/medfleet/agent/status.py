"""What a check ended with (``CheckOutcome``) and the device's status, as data and JSON.

``Action`` names the result of one cycle; ``CheckOutcome.ok`` is what the command line turns
into its exit code. The JSON forms are what ``--json`` prints; their keys are stable, scripts
rely on them. ``status_dict`` reads local files only (configuration, slots, install record,
outbox, poll state) and never touches the network, so it answers when the server is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from medfleet.agent.bundle import BundleInstall
from medfleet.agent.contract import utc_text
from medfleet.agent.decision import Decision, Install, Rejected, UpToDate
from medfleet.agent.install_state import Outcome
from medfleet.agent.installer import InstallResult

if TYPE_CHECKING:
    from medfleet.agent.runner import Agent
    from medfleet.agent.sources import SourceKind


class Action(StrEnum):
    """What one check (or bundle install) ended with."""

    NOT_MODIFIED = "not-modified"
    UP_TO_DATE = "up-to-date"
    INSTALLED = "installed"
    DEFERRED = "deferred"
    IN_PROGRESS = "in-progress"
    ROLLED_BACK = "rolled-back"
    INSTALL_FAILED = "install-failed"
    REJECTED = "rejected"


FAILED_ACTIONS = frozenset(
    {Action.IN_PROGRESS, Action.ROLLED_BACK, Action.INSTALL_FAILED, Action.REJECTED}
)
_BY_OUTCOME = {
    Outcome.COMMITTED: Action.INSTALLED,
    Outcome.DEFERRED: Action.DEFERRED,
    Outcome.IN_PROGRESS: Action.IN_PROGRESS,
    Outcome.ROLLED_BACK: Action.ROLLED_BACK,
    Outcome.FAILED: Action.INSTALL_FAILED,
}


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """What happened in one cycle; ``ok`` is False for a rejection or a failed install."""

    action: Action
    time: datetime
    detail: str | None = None
    decision: Decision | None = None
    install: InstallResult | None = None
    source: SourceKind | None = None
    reports_sent: int = 0
    reports_pending: int = 0

    @property
    def ok(self) -> bool:
        """True unless the check failed, was rejected, or the install did not succeed."""
        return self.action not in FAILED_ACTIONS

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``--json`` prints)."""
        return outcome_dict(self)


def action_for(outcome: Outcome | None) -> Action:
    """The action an install result stands for (no outcome: still in progress)."""
    return _BY_OUTCOME.get(outcome or Outcome.IN_PROGRESS, Action.IN_PROGRESS)


def decision_dict(decision: object) -> dict[str, Any] | None:
    """A decision (or bundle verdict) as JSON-ready data; None for None."""
    if isinstance(decision, BundleInstall):
        decision = decision.decision
    if isinstance(decision, UpToDate):
        return {"kind": "up-to-date", "reason": decision.reason.value}
    if isinstance(decision, Rejected):
        return {
            "kind": "rejected",
            "reason": decision.reason.value,
            "detail": decision.detail,
            "repository": decision.repository,
            "transient": decision.transient,
        }
    if isinstance(decision, Install):
        return {
            "kind": "install",
            "target": decision.image.path,
            "release_id": decision.info.release_id,
            "version": decision.info.version,
            "version_number": decision.info.version_number,
            "sha256": decision.image.sha256,
            "length": decision.image.length,
            "delta": None if decision.delta is None else decision.delta.target.path,
            "install_after": _instant(decision.instruction.install_after),
            "install_before": _instant(decision.instruction.install_before),
        }
    return None


def _instant(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


def outcome_dict(outcome: CheckOutcome) -> dict[str, Any]:
    """What ``check --json`` and ``install-bundle --json`` print."""
    install = outcome.install
    return {
        "action": outcome.action.value,
        "ok": outcome.ok,
        "time": outcome.time.isoformat(),
        "detail": outcome.detail,
        "decision": decision_dict(outcome.decision),
        "install": None
        if install is None
        else {
            "outcome": None if install.outcome is None else install.outcome.value,
            "phase": install.phase.value,
            "detail": install.detail,
        },
        "source": outcome.source,
        "reports": {"sent": outcome.reports_sent, "pending": outcome.reports_pending},
    }


def status_dict(agent: Agent) -> dict[str, Any]:
    """What ``status --json`` prints (see the module docstring)."""
    config = agent.config
    device = agent.device
    slot = device.running_slot()
    version = device.running_version()
    record = agent.installer.record()
    poll = agent.layout.load_poll_state()
    return {
        "device_id": config.device_id,
        "model": config.model,
        "hardware_revision": config.hardware_revision,
        "server_url": config.server_url,
        "repository_url": config.repository_url,
        "state_dir": str(agent.layout.root),
        "device_dir": str(device.root),
        "running": {
            "slot": slot,
            "version": None if version is None else version.version,
            "version_number": None if version is None else version.version_number,
            "sha256": None if version is None else version.sha256,
        },
        "install": None
        if record is None
        else {
            "phase": record.phase.value,
            "detail": record.detail,
            "target": record.target.path,
            "version": record.target.version,
            "version_number": record.target.version_number,
        },
        "clinical_use": device.clinical.in_clinical_use(),
        "pending_reports": len(agent.outbox.pending()),
        "reports_refused": poll.reports_refused,
        "last_refusal": poll.last_refusal,
        "last_check": {
            "time": None if poll.last_check is None else poll.last_check.isoformat(),
            "action": poll.last_action,
            "detail": poll.last_detail,
        },
        "last_full_check": None
        if poll.last_full_check is None
        else poll.last_full_check.isoformat(),
    }
