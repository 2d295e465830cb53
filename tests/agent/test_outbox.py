"""The device's outbox: it never reuses a seq (not even after a crash), delivers in order,
resends identical bytes, and backs off with jitter up to a cap."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medfleet.agent.errors import DeliveryError
from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.outbox import Backoff, Outbox
from medfleet.agent.reports import ReportContent, ReportTarget, verify_report
from medfleet.clock import FrozenClock

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
CONTENT = ReportContent(
    active_slot="b",
    active_version="2.0",
    active_version_number=200,
    install_phase="committed",
    outcome="committed",
    detail=None,
    target=ReportTarget("IP-100/pump-2.0.img", "2.0", 200, "ab" * 32),
)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> DeviceIdentity:
    return DeviceIdentity.create_or_load(tmp_path_factory.mktemp("identity"))


class Server:
    """The receiving side, as the server implements it: verify, reject replays, ack resends."""

    def __init__(self, identity: DeviceIdentity) -> None:
        self.public_key = identity.public_key_bytes
        self.stored: dict[int, bytes] = {}
        self.down = False
        self.lose_acks = False
        self.attempts = 0

    def send(self, document: bytes) -> None:
        self.attempts += 1
        if self.down:
            raise DeliveryError("503 service unavailable")
        seq = verify_report(self.public_key, document).report.seq
        if seq in self.stored:
            assert self.stored[seq] == document, "a seq was reused for different content"
        elif self.stored and seq < max(self.stored):
            raise DeliveryError("replayed or out-of-order report")
        self.stored[seq] = document
        if self.lose_acks:
            raise DeliveryError("connection reset before the acknowledgement")


def outbox(directory: Path, identity: DeviceIdentity, clock: FrozenClock) -> Outbox:
    return Outbox(
        directory,
        device_id="SN-0042",
        identity=identity,
        clock=clock,
        rng=random.Random(7),  # noqa: S311 - jitter, not cryptography
        backoff=Backoff(base=timedelta(seconds=10), cap=timedelta(minutes=5)),
    )


def test_sequence_numbers_continue_across_restarts(
    tmp_path: Path, identity: DeviceIdentity
) -> None:
    clock = FrozenClock(T0)
    assert [outbox(tmp_path, identity, clock).enqueue(CONTENT).seq for _ in range(3)] == [1, 2, 3]
    assert outbox(tmp_path, identity, clock).enqueue(CONTENT).seq == 4


CRASH_AFTER_RESERVING = """
import os, random, signal, sys
from pathlib import Path
from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.outbox import Outbox
from medfleet.agent.reports import ReportContent

class DyingClock:
    def now(self):
        os.kill(os.getpid(), signal.SIGKILL)

identity = DeviceIdentity.load(Path(sys.argv[2]))
box = Outbox(Path(sys.argv[1]), device_id="SN-0042", identity=identity, clock=DyingClock(),
             rng=random.Random(1))
box.enqueue(ReportContent("a", "1.0", 100, "idle", None, None, None))
"""


def test_a_crash_after_reserving_a_seq_never_lets_it_be_reused(tmp_path: Path) -> None:
    key_dir = tmp_path / "identity"
    identity = DeviceIdentity.create_or_load(key_dir)
    box_dir, clock = tmp_path / "outbox", FrozenClock(T0)
    assert outbox(box_dir, identity, clock).enqueue(CONTENT).seq == 1
    child = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_RESERVING, str(box_dir), str(key_dir)], check=False
    )
    assert child.returncode == -9
    box = outbox(box_dir, identity, clock)
    assert [p.seq for p in box.pending()] == [1]
    assert box.enqueue(CONTENT).seq == 3


def test_delivery_is_ordered_and_removes_acknowledged_reports(
    tmp_path: Path, identity: DeviceIdentity
) -> None:
    clock, server = FrozenClock(T0), Server(identity)
    box = outbox(tmp_path, identity, clock)
    for _ in range(3):
        box.enqueue(CONTENT)
    result = box.deliver(server)
    assert (result.sent, result.pending, result.error) == (3, 0, None)
    assert list(server.stored) == [1, 2, 3]
    assert box.deliver(server).sent == 0


def test_failures_back_off_and_the_resend_is_byte_identical(
    tmp_path: Path, identity: DeviceIdentity
) -> None:
    clock, server = FrozenClock(T0), Server(identity)
    box = outbox(tmp_path, identity, clock)
    first = box.enqueue(CONTENT)
    box.enqueue(CONTENT)
    server.down = True
    result = box.deliver(server)
    assert (result.sent, result.pending, server.attempts) == (0, 2, 1)  # head of line stops
    assert result.next_attempt_at is not None
    wait = result.next_attempt_at - T0
    assert timedelta(seconds=5) <= wait <= timedelta(seconds=10)
    assert box.deliver(server).sent == 0  # not due yet: nothing sent
    assert server.attempts == 1
    server.down, server.lose_acks = False, True
    clock.advance(wait)
    assert box.deliver(server).sent == 0
    assert server.stored == {1: first.document}
    second_wait = box.pending()[0].next_attempt_at - clock.now()
    assert timedelta(seconds=10) <= second_wait <= timedelta(seconds=20)
    server.lose_acks = False
    clock.advance(second_wait)
    assert box.deliver(server).sent == 2
    assert server.stored[1] == first.document
    assert box.pending() == []


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(base=timedelta(seconds=2), cap=timedelta(seconds=60))
    rng = random.Random(3)  # noqa: S311 - jitter, not cryptography
    for attempts, ceiling in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (50, 60)]:
        delays = [backoff.delay(attempts, rng).total_seconds() for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1
