"""The pure install state machine: transitions, records, decisions, and a model-based proof
that any sequence of steps, crashes and power losses ends old-running or new-committed.

The model device below is an in-memory stand-in for the hardware (slots, boot environment,
configuration), not for the code under test: the decisions come from ``next_step`` and the
bootloader from ``boot_env.next_boot``, exactly as the installer and ``FileBootControl`` use them.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from medfleet.agent.boot_env import BootEnv, SlotName, next_boot
from medfleet.agent.errors import InvalidTargetError, InvalidTransitionError, StateCorruptError
from medfleet.agent.install_state import (
    PRE_ARM,
    TERMINAL,
    TRANSITIONS,
    DeviceFacts,
    Do,
    Effect,
    InstallRecord,
    Outcome,
    Persist,
    Phase,
    Target,
    next_step,
)
from medfleet.agent.slots import SlotVersion

TARGET = Target(
    path="IP-100/pump-2.0.img",
    length=3,
    sha256=hashlib.sha256(b"new").hexdigest(),
    sha512=hashlib.sha512(b"new").hexdigest(),
    version="2.0",
    version_number=200,
)
OLD = SlotVersion("1.0", 100, 3, hashlib.sha256(b"old").hexdigest(), "0" * 128)


def record(phase: Phase = Phase.IDLE, tries: int = 3) -> InstallRecord:
    return InstallRecord("attempt-1", TARGET, "a", OLD, tries, phase)


def facts(
    booted: SlotName = "a",
    primary: SlotName = "a",
    pending: bool = False,
    clinical: bool = False,
    window_wait: str | None = None,
) -> DeviceFacts:
    return DeviceFacts(booted, primary, pending, clinical, window_wait)


T0 = datetime(2026, 3, 7, 7, 5, tzinfo=UTC)
OUT_OF_SERVICE = frozenset(
    {Phase.TRIAL_BOOT, Phase.HEALTH_CHECK, Phase.ROLLING_BACK, Phase.COMMITTED, Phase.ROLLED_BACK}
)


@pytest.mark.parametrize("start", list(Phase))
@pytest.mark.parametrize("end", list(Phase))
def test_only_listed_transitions_are_allowed(start: Phase, end: Phase) -> None:
    if end in TRANSITIONS[start]:
        assert record(start).advance(end, "why").phase is end
    else:
        with pytest.raises(InvalidTransitionError):
            record(start).advance(end)


def test_every_phase_can_reach_an_end_and_ends_are_final() -> None:
    for phase in Phase:
        seen, frontier = {phase}, [phase]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & TERMINAL, phase
    assert all(not TRANSITIONS[phase] for phase in TERMINAL)


def test_record_round_trips_and_bad_records_are_corrupt() -> None:
    original = record(Phase.WRITTEN).advance(Phase.FAILED, "read-back mismatch")
    assert InstallRecord.from_dict(original.to_dict()) == original
    broken = original.to_dict() | {"phase": "half-written"}
    with pytest.raises(StateCorruptError):
        InstallRecord.from_dict(broken)
    with pytest.raises(StateCorruptError):
        InstallRecord.from_dict(original.to_dict() | {"from_slot": "c"})


@given(st.recursive(st.none() | st.integers() | st.text(), st.lists))
def test_from_dict_rejects_anything_else_with_state_corrupt(value: object) -> None:
    with pytest.raises(StateCorruptError):
        InstallRecord.from_dict(value)


@pytest.mark.parametrize(
    "change",
    [{"length": -1}, {"sha256": "ABC"}, {"sha512": "0" * 64}, {"version": ""}, {"length": True}],
)
def test_target_rejects_bad_fields(change: dict[str, object]) -> None:
    with pytest.raises(InvalidTargetError):
        Target.from_dict(TARGET.to_dict() | change)


def test_clinical_use_defers_writing_and_the_trial_but_not_the_download() -> None:
    assert (
        next_step(record(Phase.DOWNLOADING), facts(clinical=True), continue_install=True).stop
        is None
    )
    assert next_step(
        record(Phase.DOWNLOADING), facts(clinical=True), continue_install=True
    ).actions[0] == Do(Effect.FETCH)
    for phase in (Phase.DOWNLOADED, Phase.WRITING, Phase.WRITTEN):
        step = next_step(record(phase), facts(clinical=True), continue_install=True)
        assert (step.actions, step.stop) == ((), Outcome.DEFERRED)


def test_outside_the_window_only_the_download_goes_on() -> None:
    waiting = facts(window_wait="waiting for the maintenance window 2026-03-07T07:00Z-11:00Z")
    step = next_step(record(Phase.DOWNLOADING), waiting, continue_install=True)
    assert step.stop is None
    assert step.actions[0] == Do(Effect.FETCH)
    for phase in (Phase.DOWNLOADED, Phase.WRITING, Phase.WRITTEN):
        step = next_step(record(phase), waiting, continue_install=True)
        assert (step.actions, step.stop, step.detail) == ((), Outcome.DEFERRED, waiting.window_wait)


def test_clinical_use_is_named_before_the_window() -> None:
    both = facts(clinical=True, window_wait="waiting for the maintenance window")
    step = next_step(record(Phase.DOWNLOADED), both, continue_install=True)
    assert step.detail is not None
    assert step.detail.startswith("device in clinical use")


def test_a_window_that_ends_after_the_device_left_service_does_not_stop_the_attempt() -> None:
    closed = "the maintenance window has closed"
    armed = facts(booted="a", primary="b", pending=True, window_wait=closed)
    assert next_step(record(Phase.TRIAL_BOOT), armed, continue_install=True).actions == (
        Do(Effect.REBOOT),
    )
    on_new = facts("b", "b", pending=True, window_wait=closed)
    step = next_step(record(Phase.HEALTH_CHECK), on_new, continue_install=True)
    assert Persist(Phase.COMMITTED) in step.actions


def test_the_trial_boot_stamps_leaving_service_and_the_end_stamps_the_return() -> None:
    written = record(Phase.WRITTEN)
    trial = written.advance(Phase.TRIAL_BOOT, at=T0)
    assert (trial.left_service_at, trial.returned_to_service_at) == (T0, None)
    checking = trial.advance(Phase.HEALTH_CHECK, at=T0 + timedelta(minutes=2))
    assert checking.left_service_at == T0  # kept, not moved
    done = checking.advance(Phase.COMMITTED, at=T0 + timedelta(minutes=4))
    assert (done.left_service_at, done.returned_to_service_at) == (T0, T0 + timedelta(minutes=4))
    back = trial.advance(Phase.ROLLING_BACK, "bad").advance(Phase.ROLLED_BACK, at=T0)
    assert back.returned_to_service_at == T0


def test_a_clock_stepped_back_never_returns_the_device_before_it_left() -> None:
    trial = record(Phase.WRITTEN).advance(Phase.TRIAL_BOOT, at=T0)
    done = trial.advance(Phase.HEALTH_CHECK).advance(Phase.COMMITTED, at=T0 - timedelta(hours=1))
    assert done.returned_to_service_at == T0


def test_a_failed_attempt_never_left_service() -> None:
    for phase in PRE_ARM:
        failed = record(phase).advance(Phase.FAILED, "no", at=T0)
        assert (failed.left_service_at, failed.returned_to_service_at) == (None, None)


def test_service_instants_round_trip_and_old_records_have_none() -> None:
    trial = record(Phase.WRITTEN).advance(Phase.TRIAL_BOOT, at=T0 + timedelta(microseconds=7))
    done = trial.advance(Phase.HEALTH_CHECK).advance(Phase.COMMITTED, at=T0 + timedelta(hours=1))
    assert InstallRecord.from_dict(done.to_dict()) == done
    assert done.to_dict()["left_service_at"] == "2026-03-07T07:05:00.000007Z"
    older = {
        k: v
        for k, v in done.to_dict().items()
        if k not in ("left_service_at", "returned_to_service_at")
    }
    parsed = InstallRecord.from_dict(older)
    assert (parsed.left_service_at, parsed.returned_to_service_at) == (None, None)
    for bad in ("2026-03-07T07:05:00", "2026-03-07T08:05:00+01:00", 17, "soon"):
        with pytest.raises(StateCorruptError):
            InstallRecord.from_dict(done.to_dict() | {"left_service_at": bad})


def test_recovery_alone_pauses_before_the_trial_and_never_writes() -> None:
    for phase in PRE_ARM:
        step = next_step(record(phase), facts(), continue_install=False)
        assert (step.actions, step.stop) == ((), Outcome.IN_PROGRESS)


def test_boot_environment_is_armed_only_after_trial_boot_is_persisted() -> None:
    step = next_step(record(Phase.WRITTEN), facts(), continue_install=True)
    actions = list(step.actions)
    assert actions.index(Persist(Phase.TRIAL_BOOT)) < actions.index(Do(Effect.ARM_TRIAL))


def test_an_unarmed_or_exhausted_trial_rolls_back_rather_than_rearming() -> None:
    step = next_step(record(Phase.TRIAL_BOOT), facts(), continue_install=True)
    assert [a.phase for a in step.actions if isinstance(a, Persist)] == [Phase.ROLLING_BACK]


def test_an_armed_trial_after_an_agent_restart_reboots_unless_in_clinical_use() -> None:
    armed = facts(booted="a", primary="b", pending=True)
    assert next_step(record(Phase.TRIAL_BOOT), armed, continue_install=False).actions == (
        Do(Effect.REBOOT),
    )
    in_use = facts(booted="a", primary="b", pending=True, clinical=True)
    step = next_step(record(Phase.TRIAL_BOOT), in_use, continue_install=False)
    assert [a.phase for a in step.actions if isinstance(a, Persist)] == [Phase.ROLLING_BACK]


def test_a_slot_already_marked_good_commits_without_a_second_health_check() -> None:
    step = next_step(record(Phase.HEALTH_CHECK), facts("b", "b"), continue_install=False)
    assert step.actions == (Do(Effect.MARK_GOOD), Persist(Phase.COMMITTED))


class InstallModel(RuleBasedStateMachine):
    """An in-memory device driven by ``next_step``, with crashes and power losses anywhere."""

    @initialize(
        healthy=st.booleans(), bootable=st.booleans(), tries=st.integers(min_value=1, max_value=3)
    )
    def start(self, healthy: bool, bootable: bool, tries: int) -> None:
        self.healthy = healthy
        self.bootable = bootable
        self.tries = tries
        self.env = BootEnv()
        self.booted: SlotName = "a"
        self.image: dict[SlotName, str | None] = {"a": "old", "b": None}
        self.verified: dict[SlotName, str | None] = {"a": "old", "b": None}
        self.download = 0
        self.corrupt = False
        self.config = "orig"
        self.backup: str | None = None
        self.clinical = False
        self.window_wait: str | None = None
        self.now = T0
        self.stored: InstallRecord | None = None
        self.memory = record(tries=tries)
        self.plan: list[Persist | Do] = []
        self.stop: Outcome | None = None
        self.finished = False

    def facts(self) -> DeviceFacts:
        return DeviceFacts(
            self.booted,
            self.env.primary,
            self.env.upgrade_available,
            self.clinical,
            self.window_wait,
        )

    def power_on(self) -> None:
        """Boot; an image that cannot start the agent is reset by the watchdog until the
        bootloader gives up on it."""
        self.booted, self.env = next_boot(self.env)
        while self.verified[self.booted] == "new" and not self.bootable:
            self.booted, self.env = next_boot(self.env)
        if self.verified[self.booted] == "new":
            self.config = "migrated"

    def persist(self, phase: Phase, detail: str | None) -> None:
        self.now += timedelta(seconds=30)
        self.memory = self.memory.advance(phase, detail, at=self.now)
        self.stored = self.memory

    def effect(self, effect: Effect) -> bool:
        slot = self.memory.target_slot
        if effect is Effect.FETCH:
            self.download = TARGET.length
        elif effect is Effect.VERIFY_DOWNLOAD:
            if self.corrupt:
                self.download, self.corrupt = 0, False
                return False
        elif effect is Effect.WRITE_SLOT:
            assert self.booted != slot, "the running slot must never be written"
            assert self.download == TARGET.length
            assert not self.corrupt
            self.verified[slot], self.image[slot] = None, "new"
        elif effect is Effect.VERIFY_SLOT:
            self.verified[slot] = self.image[slot]
        elif effect is Effect.BACKUP_CONFIG:
            assert self.config == "orig", "the backup must hold the old version's config"
            self.backup = self.config
        else:
            return self.boot_effect(effect)
        return True

    def boot_effect(self, effect: Effect) -> bool:
        slot = self.memory.target_slot
        if effect is Effect.ARM_TRIAL:
            self.env = self.env.with_trial(slot, self.memory.trial_tries)
        elif effect is Effect.REBOOT:
            self.power_on()
        elif effect is Effect.HEALTH_CHECK:
            return self.healthy and self.verified[self.booted] == "new"
        elif effect is Effect.MARK_GOOD:
            assert self.booted == self.env.primary
            self.env = self.env.marked_good()
        elif effect is Effect.MARK_BAD:
            self.env = self.env.marked_bad(slot)
        elif effect is Effect.RESTORE_CONFIG:
            assert self.backup is not None, "a rollback needs the backup"
            self.config = self.backup
        elif effect is Effect.CLEANUP:
            self.download, self.backup = 0, None
        return True

    def advance(self, continue_install: bool = True) -> None:
        """One action of the current step (deciding a new step when the last one is done)."""
        if not self.plan:
            if self.stop in (Outcome.COMMITTED, Outcome.ROLLED_BACK, Outcome.FAILED):
                self.finished = True
                return
            now = self.facts()
            step = next_step(self.memory, now, continue_install=continue_install)
            leaves = Do(Effect.WRITE_SLOT) in step.actions or Do(Effect.ARM_TRIAL) in step.actions
            if leaves and self.memory.phase in PRE_ARM:
                assert not now.clinical_use, "written or armed while in clinical use"
                assert now.window_wait is None, "written or armed outside the install window"
            self.plan, self.stop = list(step.actions), step.stop
            return
        action = self.plan.pop(0)
        if isinstance(action, Persist):
            self.persist(action.phase, action.detail)
        elif not self.effect(action.effect):
            assert action.on_failure is not None
            self.plan, self.stop = [], None
            self.persist(action.on_failure, f"{action.effect} failed")

    def restart_agent(self) -> None:
        self.plan, self.stop, self.finished = [], None, False
        self.memory = self.stored if self.stored is not None else record(tries=self.tries)

    @precondition(lambda self: not self.finished)
    @rule()
    def act(self) -> None:
        self.advance()

    @rule(mid_effect=st.booleans())
    def power_loss(self, mid_effect: bool) -> None:
        head = self.plan[0] if self.plan else None
        if mid_effect and isinstance(head, Do):
            slot = self.memory.target_slot
            if head.effect is Effect.FETCH:
                self.download = TARGET.length - 1
            elif head.effect is Effect.WRITE_SLOT:
                self.verified[slot], self.image[slot] = None, "partial"
            elif head.effect is Effect.BACKUP_CONFIG:
                self.backup = None
            elif head.effect is Effect.RESTORE_CONFIG:
                self.config = "missing"
        self.power_on()
        self.restart_agent()

    @rule()
    def agent_crash(self) -> None:
        self.restart_agent()

    @rule(in_use=st.booleans())
    def clinical_use(self, in_use: bool) -> None:
        self.clinical = in_use

    @rule(inside=st.booleans())
    def install_window(self, inside: bool) -> None:
        self.window_wait = None if inside else "waiting for the maintenance window"

    @precondition(
        lambda self: (
            self.download > 0
            and self.memory.phase is Phase.DOWNLOADING
            and self.plan[:1] != [Persist(Phase.DOWNLOADED)]
        )
    )
    @rule()
    def mirror_sends_wrong_bytes(self) -> None:
        self.corrupt = True

    @rule()
    def recover_alone(self) -> None:
        """A bare ``recover()``: must leave old running or new committed, nothing armed."""
        self.restart_agent()
        for _ in range(100):
            self.advance(continue_install=False)
            if self.finished or (not self.plan and self.stop is not None):
                break
        else:
            pytest.fail("recovery did not settle")
        assert not self.env.upgrade_available
        assert self.booted == self.env.primary
        if self.stored is not None and self.stored.phase is Phase.COMMITTED:
            assert self.verified[self.booted] == "new"
        else:
            assert (self.booted, self.verified[self.booted]) == ("a", "old")
        self.restart_agent()

    @invariant()
    def every_slot_the_bootloader_may_pick_holds_a_verified_image(self) -> None:
        if not hasattr(self, "env"):
            return
        env = self.env
        for _ in range(self.tries + 2):
            slot, env = next_boot(env)
            assert self.image[slot] in ("old", "new"), (slot, self.image)
            assert self.verified[slot] == self.image[slot]

    @invariant()
    def the_record_knows_when_the_device_left_service_and_came_back(self) -> None:
        stored = self.stored
        if stored is None:
            return
        left, returned = stored.left_service_at, stored.returned_to_service_at
        assert (left is not None) == (stored.phase in OUT_OF_SERVICE)
        assert (returned is not None) == (stored.phase in (Phase.COMMITTED, Phase.ROLLED_BACK))
        assert returned is None or (left is not None and left <= returned)

    @invariant()
    def the_persisted_phase_matches_the_boot_environment(self) -> None:
        if not hasattr(self, "env"):
            return
        phase = Phase.IDLE if self.stored is None else self.stored.phase
        settled = not self.env.upgrade_available
        if phase in PRE_ARM or phase in (Phase.IDLE, Phase.FAILED, Phase.ROLLED_BACK):
            assert settled
            assert self.env.primary == "a"
        if phase in (Phase.FAILED, Phase.ROLLED_BACK, Phase.IDLE) or phase in PRE_ARM:
            assert self.config == "orig"
        if phase is Phase.COMMITTED:
            assert settled
            assert self.env.primary == "b"
            assert self.verified["b"] == "new"

    def teardown(self) -> None:
        if not hasattr(self, "env"):
            return
        self.clinical = False
        self.window_wait = None
        self.restart_agent()
        for _ in range(200):
            if self.finished:
                break
            self.advance()
        assert self.finished, self.memory
        self.power_on()
        assert self.stored is not None
        assert self.stored.phase in TERMINAL
        assert not self.env.upgrade_available
        if self.stored.phase is Phase.COMMITTED:
            assert (self.booted, self.verified["b"], self.config) == ("b", "new", "migrated")
        else:
            assert (self.booted, self.verified["a"], self.config) == ("a", "old", "orig")
            assert self.stored.detail


TestInstallModel = InstallModel.TestCase
TestInstallModel.settings = settings(
    max_examples=300,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
