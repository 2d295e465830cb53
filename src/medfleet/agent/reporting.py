"""Which status reports the agent queues, and when: each distinct state once, never per poll.

``StatusReporter`` builds the content from the installer (``Installer.report_content``: the
running version, the install state, clinical use, the service instants), queues it in the
outbox (signed there) and remembers what it reported in the poll state. Rules:

- the first report after enrollment attests the running version (``attested``);
- an install result is reported once per attempt, phase and outcome; a deferral once per
  reason as well (clinical use, waiting for the window, window closed), so the server learns
  why an install waits without hearing it on every poll;
- a non-transient rejection once per distinct reason (the run loop keys it);
- a change of clinical use alone is reported when the last queued report stated the other
  state (every report states it, so no extra report follows one that is current).

The poll state is saved right after the report is queued: a crash in between can only repeat
a report (with a new sequence number), never lose one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from medfleet.agent.config import PollState, StateLayout
from medfleet.agent.install_state import TERMINAL, Outcome, Phase
from medfleet.agent.installer import Installer, InstallResult
from medfleet.agent.outbox import Outbox
from medfleet.agent.reports import ReportContent

ATTESTED = "attested"
MAX_DETAIL = 2000


def install_report_key(result: InstallResult) -> str:
    """What makes an install result a new report: attempt, phase, outcome (and for a
    deferral its reason); ``attested`` when there is no attempt at all."""
    record = result.record
    if record is None:
        return ATTESTED
    outcome = None if result.outcome is None else result.outcome.value
    key = f"{record.attempt_id}:{result.phase.value}:{outcome}"
    return f"{key}:{result.detail}" if result.outcome is Outcome.DEFERRED else key


class StatusReporter:
    """Queues the reports the rules above call for (see the module docstring)."""

    def __init__(self, layout: StateLayout, installer: Installer, outbox: Outbox) -> None:
        self.layout = layout
        self.installer = installer
        self.outbox = outbox

    def enqueue(self, state: PollState, content: ReportContent, **changes: Any) -> PollState:
        """Queue ``content`` and save ``state`` with ``changes`` and the clinical use it states."""
        self.outbox.enqueue(content)
        state = replace(state, last_clinical_use=content.in_clinical_use, **changes)
        self.layout.save_poll_state(state)
        return state

    def install_result(self, state: PollState, result: InstallResult) -> PollState:
        """Report ``result`` unless this very state was reported already (with no attempt at
        all, only the first report after enrollment is made here)."""
        key = install_report_key(result)
        if key == state.last_report_key or (key == ATTESTED and state.last_report_key):
            return state
        content = self.installer.report_content(result)
        return self.enqueue(state, content, last_report_key=key)

    def rejection(self, state: PollState, key: str, detail: str) -> PollState:
        """Report a rejection (outcome ``failed``, no target) unless ``key`` was the last one."""
        if key == state.last_rejection:
            return state
        content = replace(
            self.installer.report_content(self.idle()),
            outcome=Outcome.FAILED.value,
            detail=f"rejected {detail}"[:MAX_DETAIL],
        )
        return self.enqueue(state, content, last_rejection=key)

    def clinical_use(self, state: PollState) -> PollState:
        """Report the clinical-use state if the last queued report stated another one."""
        content = self.installer.report_content(self.idle())
        if content.in_clinical_use == state.last_clinical_use:
            return state
        detail = "clinical use began" if content.in_clinical_use else "clinical use ended"
        return self.enqueue(state, replace(content, detail=detail))

    def idle(self) -> InstallResult:
        """The install state without an outcome: a paused attempt's phase, else ``idle``."""
        record = self.installer.record()
        phase = record.phase if record is not None and record.phase not in TERMINAL else None
        return InstallResult(None, phase or Phase.IDLE, None, None)
