"""The agent's run loop as a library: one enrolled device, one check at a time.

``Agent`` ties the pieces together for the command line and for in-process fleet simulations
(any number of agents in one process, each with its own state directory and device). Clock,
random source, HTTP pool, report transport and TUF fetcher are injected.

One ``check_once``:

1. ``Installer.recover`` settles an install a crash or power loss interrupted; a change of
   clinical use since the last report is reported (``StatusReporter``);
2. pending reports are delivered (``Outbox``, backoff on failure);
3. the director's ``timestamp.json`` is polled with the stored ETag; on ``304``, with a full
   check done within ``full_check_interval`` and no paused install, the cycle ends here;
4. otherwise ``check_for_update`` decides. ``Install``: the image is built from the director's
   delta when it starts from the running image (``DeltaSource``, falling back to the full image)
   or downloaded in full, then installed by the ``Installer`` inside the instruction's install
   window (it defers while the device is in clinical use or outside the window, and resumes
   next cycle; the download happens regardless). ``Rejected``: nothing is installed; a non-transient
   reason is reported once per distinct reason, never again until the decision changes;
5. the installer's state is reported whenever it changed (signed, through the outbox; rules in
   ``medfleet.agent.reporting``), and the outbox is delivered again.

Guarantees: nothing is installed unless both repositories agree (``check_for_update``); the ETag
is remembered only after a full check that reached the repositories, so a ``304`` never hides
a failed check; reports are never lost to a crash (outbox) and never repeated for the same
install state; ``run_forever`` only waits on an ``Event`` and stops between cycles (an install
under way is finished first; the installer survives being killed anyway).
"""

from __future__ import annotations

import logging
import random
import shutil
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import urllib3
from tuf.ngclient.fetcher import FetcherInterface

from medfleet.agent.bundle import BundleInstall, verify_bundle
from medfleet.agent.config import AgentConfig, ConfigError, PollState, StateLayout
from medfleet.agent.decision import Decision, Install, InstalledImage, Rejected, RejectReason
from medfleet.agent.decision import UpToDate as UpToDateDecision
from medfleet.agent.device import SimulatedDevice
from medfleet.agent.download import default_pool
from medfleet.agent.errors import InstallError, InvalidTargetError
from medfleet.agent.identity import DeviceIdentity as DeviceKey
from medfleet.agent.install_state import PRE_ARM, TERMINAL
from medfleet.agent.installer import (
    Installer,
    InstallResult,
    LocalFileSource,
    Observer,
)
from medfleet.agent.outbox import Backoff, Clock, Outbox, ReportTransport, SystemClock
from medfleet.agent.poll import PollError, PollResult, poll_director
from medfleet.agent.report_http import HttpReportTransport
from medfleet.agent.reporting import StatusReporter
from medfleet.agent.sources import DeltaSource, FullImageSource, SourceKind, install_target
from medfleet.agent.status import Action, CheckOutcome, action_for, status_dict
from medfleet.agent.updates import check_for_update
from medfleet.agent.window import InstallWindow

LOG = logging.getLogger(__name__)
DEFAULT_FULL_CHECK_INTERVAL = timedelta(days=1)
MIN_DELAY = 1.0


def open_device(root: Path) -> SimulatedDevice:
    """The file-backed device at ``root``.

    Raises:
        ConfigError: there is no device there.
    """
    device = SimulatedDevice(root)
    if not device.boot_control.env_path.is_file():
        raise ConfigError(
            f"no device at {root}: create it with 'medfleet-agent enroll --initial-image …'"
        )
    return device


class Agent:
    """One enrolled device's agent (see the module docstring)."""

    def __init__(
        self,
        layout: StateLayout,
        config: AgentConfig,
        device: SimulatedDevice,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        http: urllib3.PoolManager | None = None,
        transport: ReportTransport | None = None,
        fetcher: FetcherInterface | None = None,
        full_check_interval: timedelta = DEFAULT_FULL_CHECK_INTERVAL,
        backoff: Backoff | None = None,
        trial_tries: int = 3,
        observer: Observer | None = None,
    ) -> None:
        layout.ensure()
        self.layout = layout
        self.config = config
        self.device = device
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.http = http or default_pool()
        self.transport: ReportTransport = transport or HttpReportTransport(
            config.reports_url, self.http
        )
        self.fetcher = fetcher
        self.full_check_interval = full_check_interval
        self.repositories = layout.repositories(config)
        self.key = DeviceKey.load(layout.identity_dir)
        self.installer = Installer(
            state_dir=layout.installer_dir,
            config_dir=device.config_dir,
            slots=device.slots,
            boot=device.boot_control,
            clinical=device.clinical,
            health=device.health,
            rebooter=device,
            trial_tries=trial_tries,
            observer=observer,
            clock=self.clock,
        )
        self.outbox = Outbox(
            layout.outbox_dir,
            device_id=config.device_id,
            identity=self.key,
            clock=self.clock,
            rng=self.rng,
            backoff=backoff,
        )
        self.reporter = StatusReporter(layout, self.installer, self.outbox)

    @classmethod
    def open(cls, state_dir: Path, device_dir: Path | None = None, **options: Any) -> Agent:
        """The agent of the enrollment in ``state_dir``; ``options`` go to the constructor.

        ``device_dir`` overrides the device recorded at enrollment (default ``<state>/device``).

        Raises:
            NotEnrolledError: not enrolled.
            ConfigError: the configuration is invalid or there is no device.
            IdentityError: the device key is missing or unusable.
        """
        layout = StateLayout(state_dir)
        config = layout.load_config()
        recorded = Path(config.device_dir) if config.device_dir else None
        root = device_dir or recorded or layout.default_device_dir()
        return cls(layout, config, open_device(root), **options)

    # --- one cycle ---------------------------------------------------------------------

    def check_once(self) -> CheckOutcome:
        """Run one cycle (see the module docstring) and return what happened.

        Raises:
            InstallError: the device's boot state is unaccounted for or does not follow it.
            StateCorruptError: a state file is unreadable.
        """
        now = self.clock.now()
        state = self.layout.load_poll_state()
        recovered = self.installer.recover()
        if recovered.record is None or recovered.phase in TERMINAL:
            state = self.reporter.install_result(state, recovered)
        state = self.reporter.clinical_use(state)
        sent = self.outbox.deliver(self.transport).sent
        paused = recovered.record is not None and recovered.phase in PRE_ARM
        try:
            poll = poll_director(
                self.repositories.base_url, self.config.device_id, state.etag, http=self.http
            )
        except PollError as error:
            LOG.warning("poll failed, running a full check: %s", error)
            poll = PollResult(changed=True, etag=None)
        if not poll.changed and not paused and self._checked_recently(state, now):
            outcome = CheckOutcome(Action.NOT_MODIFIED, now, "the director published nothing new")
        else:
            outcome, state = self._full_check(state, poll, now)
        return self._finish(outcome, state, sent)

    def _checked_recently(self, state: PollState, now: datetime) -> bool:
        last = state.last_full_check
        return last is not None and last <= now < last + self.full_check_interval

    def _full_check(
        self, state: PollState, poll: PollResult, now: datetime
    ) -> tuple[CheckOutcome, PollState]:
        installed = self.installed()
        decision = self._decide(installed)
        if not (isinstance(decision, Rejected) and decision.transient):
            state = replace(state, etag=poll.etag, last_full_check=now)
        if isinstance(decision, Rejected):
            return self._rejected(decision, state, now)
        state = replace(state, last_rejection=None)
        if isinstance(decision, UpToDateDecision):
            return CheckOutcome(Action.UP_TO_DATE, now, decision.reason.value, decision), state
        return self._install(decision, installed, state, now)

    def _decide(self, installed: InstalledImage) -> Decision:
        floor = installed.version_number
        return check_for_update(
            self.config.identity, installed, floor, self.repositories, self.fetcher
        )

    def _install(
        self, decision: Install, installed: InstalledImage, state: PollState, now: datetime
    ) -> tuple[CheckOutcome, PollState]:
        try:
            target = install_target(decision)
        except InvalidTargetError as error:
            rejected = Rejected(RejectReason.INVALID_IMAGE_METADATA, str(error), "image")
            return self._rejected(rejected, state, now)
        source: DeltaSource | FullImageSource
        delta = decision.delta
        if delta is not None and delta.info.from_sha256 == installed.sha256:
            running = self.device.slots.image_path(self.device.running_slot())
            source = DeltaSource(
                decision.image, delta, running, self.layout.downloads_dir, self.http
            )
        else:
            source = FullImageSource(decision.image, self.http)
        result = self.installer.install(target, source, InstallWindow.of(decision.instruction))
        # None: the bytes were complete already (an install resumed after a deferral).
        return self._installed_outcome(decision, result, source.used, state, now)

    def _installed_outcome(
        self,
        decision: Install,
        result: InstallResult,
        source: SourceKind | None,
        state: PollState,
        now: datetime,
    ) -> tuple[CheckOutcome, PollState]:
        state = self.reporter.install_result(state, result)
        if result.phase in TERMINAL:
            shutil.rmtree(self.layout.downloads_dir, ignore_errors=True)
        outcome = CheckOutcome(
            action_for(result.outcome), now, result.detail, decision, result, source
        )
        return outcome, state

    def _rejected(
        self, decision: Rejected, state: PollState, now: datetime
    ) -> tuple[CheckOutcome, PollState]:
        detail = f"{decision.reason.value}: {decision.detail}"
        outcome = CheckOutcome(Action.REJECTED, now, detail, decision)
        key = f"{decision.reason.value}|{decision.repository}|{decision.detail}"
        if decision.transient or key == state.last_rejection:
            return outcome, state
        LOG.warning("update rejected: %s", detail)
        return outcome, self.reporter.rejection(state, key, detail)

    def _finish(self, outcome: CheckOutcome, state: PollState, sent: int) -> CheckOutcome:
        delivery = self.outbox.deliver(self.transport)
        if isinstance(self.transport, HttpReportTransport) and self.transport.refused:
            last = self.transport.refused[-1]
            state = replace(
                state,
                reports_refused=state.reports_refused + len(self.transport.refused),
                last_refusal=f"HTTP {last.status}: {last.detail}",
            )
            self.transport.refused.clear()
        state = replace(
            state,
            last_check=outcome.time,
            last_action=outcome.action.value,
            last_detail=outcome.detail,
        )
        self.layout.save_poll_state(state)
        LOG.info("check: %s (%s)", outcome.action.value, outcome.detail or "-")
        return replace(outcome, reports_sent=sent + delivery.sent, reports_pending=delivery.pending)

    # --- offline bundles ---------------------------------------------------------------

    def install_bundle(self, path: Path) -> CheckOutcome:
        """Verify an offline bundle as an online update is verified, and install from it.

        The report is queued, not sent: it goes out with the next online cycle. The bundle's
        full image is installed (it is always in the bundle, already verified).

        Raises:
            InstallError: as ``check_once``.
        """
        now = self.clock.now()
        state = self.layout.load_poll_state()
        installed = self.installed()
        work = self.layout.downloads_dir / "bundle"
        verdict = verify_bundle(
            path,
            self.config.identity,
            installed,
            installed.version_number,
            self.repositories,
            work,
        )
        if isinstance(verdict, Rejected):
            outcome, state = self._rejected(verdict, state, now)
        elif isinstance(verdict, UpToDateDecision):
            outcome = CheckOutcome(Action.UP_TO_DATE, now, verdict.reason.value, verdict)
        else:
            outcome, state = self._install_from_bundle(verdict, state, now)
        shutil.rmtree(work, ignore_errors=True)
        state = replace(
            state, last_check=now, last_action=outcome.action.value, last_detail=outcome.detail
        )
        self.layout.save_poll_state(state)
        return replace(outcome, reports_pending=len(self.outbox.pending()))

    def _install_from_bundle(
        self, verdict: BundleInstall, state: PollState, now: datetime
    ) -> tuple[CheckOutcome, PollState]:
        try:
            target = install_target(verdict.decision)
        except InvalidTargetError as error:
            rejected = Rejected(RejectReason.INVALID_IMAGE_METADATA, str(error), "image")
            return self._rejected(rejected, state, now)
        window = InstallWindow.of(verdict.decision.instruction)
        result = self.installer.install(target, LocalFileSource(verdict.image_file), window)
        return self._installed_outcome(verdict.decision, result, "bundle", state, now)

    # --- state -------------------------------------------------------------------------

    def installed(self) -> InstalledImage:
        """The image the device runs now (its version number is the anti-rollback floor).

        Raises:
            InstallError: the running slot claims no verified image.
        """
        version = self.device.running_version()
        if version is None:
            raise InstallError(f"slot {self.device.running_slot()} holds no verified image")
        return InstalledImage(version.sha256, version.version_number)

    def status(self) -> dict[str, Any]:
        """What ``status --json`` prints; reads local state only, never the network."""
        return status_dict(self)

    # --- the loop ----------------------------------------------------------------------

    def next_delay(self, interval: float | None = None, jitter: float | None = None) -> float:
        """Seconds until the next cycle: interval plus random jitter, sooner if a report is
        due for another delivery attempt before then (never below ``MIN_DELAY``)."""
        base = self.config.poll_interval if interval is None else interval
        spread = self.config.poll_jitter if jitter is None else jitter
        delay = base + self.rng.uniform(0, spread)
        pending = self.outbox.pending()
        if pending:
            due = (pending[0].next_attempt_at - self.clock.now()).total_seconds()
            delay = min(delay, due)
        return max(MIN_DELAY, delay)

    def run_forever(
        self,
        stop: threading.Event,
        *,
        interval: float | None = None,
        jitter: float | None = None,
    ) -> None:
        """Run cycles until ``stop`` is set; an error in one cycle is logged, not fatal."""
        while not stop.is_set():
            try:
                self.check_once()
            except Exception:  # the loop must outlive any one failed cycle
                LOG.exception("check failed")
            if stop.wait(self.next_delay(interval, jitter)):
                break
