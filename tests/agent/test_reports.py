"""Signed status reports: verification rejects everything but the device's own canonical,
well-formed reports; the outbox never reuses a seq, resends identical bytes, and backs off."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from medfleet.agent.errors import (
    DeliveryError,
    MalformedReportError,
    ReportError,
    ReportSignatureError,
    UnsignedReportError,
)
from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.reports import (
    REPORT_DOMAIN,
    Backoff,
    Outbox,
    ReportContent,
    ReportTarget,
    StatusReport,
    canonical_json,
    sign_report,
    verify_report,
)
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
FIXED_IDENTITY = DeviceIdentity(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> DeviceIdentity:
    return DeviceIdentity.create_or_load(tmp_path_factory.mktemp("identity"))


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> DeviceIdentity:
    return DeviceIdentity.create_or_load(tmp_path_factory.mktemp("other"))


@pytest.fixture(scope="module")
def document(identity: DeviceIdentity) -> bytes:
    return sign_report(StatusReport("SN-0042", 7, T0, CONTENT), identity)


def resign(body: dict[str, object], identity: DeviceIdentity) -> bytes:
    signature = identity.sign(REPORT_DOMAIN + canonical_json(body))
    return canonical_json(
        {"report": body, "signature": {"keyid": identity.key_id, "sig": signature.hex()}}
    )


def test_a_signed_report_verifies_and_round_trips(
    identity: DeviceIdentity, document: bytes
) -> None:
    verified = verify_report(identity.public_key_bytes, document)
    assert verified.report == StatusReport("SN-0042", 7, T0, CONTENT)
    assert verified.key_id == identity.key_id
    assert json.loads(document)["report"]["time"] == "2026-03-02T08:30:00.000000Z"


def test_an_unsigned_report_is_rejected(identity: DeviceIdentity, document: bytes) -> None:
    unsigned = canonical_json({"report": json.loads(document)["report"]})
    with pytest.raises(UnsignedReportError):
        verify_report(identity.public_key_bytes, unsigned)


def test_a_report_signed_by_another_device_is_rejected(
    identity: DeviceIdentity, other: DeviceIdentity
) -> None:
    foreign = sign_report(StatusReport("SN-0042", 7, T0, CONTENT), other)
    with pytest.raises(ReportSignatureError, match="not the device's key"):
        verify_report(identity.public_key_bytes, foreign)
    value = json.loads(foreign)
    value["signature"]["keyid"] = identity.key_id
    with pytest.raises(ReportSignatureError, match="does not verify"):
        verify_report(identity.public_key_bytes, canonical_json(value))


def test_a_changed_field_breaks_the_signature(identity: DeviceIdentity, document: bytes) -> None:
    value = json.loads(document)
    value["report"]["active_version"] = "1.0"
    with pytest.raises(ReportSignatureError):
        verify_report(identity.public_key_bytes, canonical_json(value))


def test_a_signature_without_the_report_domain_is_rejected(
    identity: DeviceIdentity, document: bytes
) -> None:
    body = json.loads(document)["report"]
    signature = identity.sign(canonical_json(body))
    forged = canonical_json(
        {"report": body, "signature": {"keyid": identity.key_id, "sig": signature.hex()}}
    )
    with pytest.raises(ReportSignatureError):
        verify_report(identity.public_key_bytes, forged)


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"seq": -1},
        {"seq": True},
        {"time": "2026-03-02T09:30:00+01:00"},
        {"time": "yesterday"},
        {"install_phase": "half_done"},
        {"outcome": "probably"},
        {"active_slot": "c"},
        {"device_id": "../etc"},
        {"active_version_number": "200"},
        {"target": {"path": "x", "version": "2", "version_number": 2, "sha256": "AB" * 32}},
    ],
)
def test_well_signed_but_malformed_reports_are_rejected(
    identity: DeviceIdentity, document: bytes, change: dict[str, object]
) -> None:
    body = json.loads(document)["report"] | change
    with pytest.raises(MalformedReportError):
        verify_report(identity.public_key_bytes, resign(body, identity))


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        b"[]",
        b'{"report": 1.5, "signature": {}}',
        b'{"report":{},"report":{},"signature":{}}',
        b"\xff\xfe",
        b"[" * 20_000 + b"]" * 20_000,
        b" " * (64 * 1024 + 1),
    ],
)
def test_garbage_is_malformed(identity: DeviceIdentity, bad: bytes) -> None:
    with pytest.raises(MalformedReportError):
        verify_report(identity.public_key_bytes, bad)


def test_a_non_canonical_encoding_is_rejected(identity: DeviceIdentity, document: bytes) -> None:
    pretty = json.dumps(json.loads(document), indent=1).encode()
    with pytest.raises(MalformedReportError, match="canonical"):
        verify_report(identity.public_key_bytes, pretty)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_report_errors(data: bytes) -> None:
    with pytest.raises(ReportError):
        verify_report(bytes(32), data)


FIXED_DOCUMENT = sign_report(StatusReport("SN-1", 3, T0, CONTENT), FIXED_IDENTITY)


@given(st.integers(0, len(FIXED_DOCUMENT) - 1), st.integers(1, 255))
def test_any_single_byte_change_is_rejected(position: int, delta: int) -> None:
    changed = (FIXED_DOCUMENT[position] + delta) % 256
    mutated = FIXED_DOCUMENT[:position] + bytes([changed]) + FIXED_DOCUMENT[position + 1 :]
    with pytest.raises(ReportError):
        verify_report(FIXED_IDENTITY.public_key_bytes, mutated)


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
from medfleet.agent.reports import Outbox, ReportContent

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
