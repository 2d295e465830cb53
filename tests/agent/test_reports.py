"""Signed status reports: verification rejects everything but the device's own canonical,
well-formed reports (the outbox that delivers them is tested in ``test_outbox``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from medfleet.agent.errors import (
    MalformedReportError,
    ReportError,
    ReportSignatureError,
    UnsignedReportError,
)
from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.reports import (
    REPORT_DOMAIN,
    ReportContent,
    ReportTarget,
    StatusReport,
    canonical_json,
    sign_report,
    verify_report,
)

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
CONTENT = ReportContent(
    active_slot="b",
    active_version="2.0",
    active_version_number=200,
    install_phase="committed",
    outcome="committed",
    detail=None,
    target=ReportTarget("IP-100/pump-2.0.img", "2.0", 200, "ab" * 32),
    in_clinical_use=False,
    left_service_at=datetime(2026, 3, 2, 8, 20, 5, 250, tzinfo=UTC),
    returned_to_service_at=datetime(2026, 3, 2, 8, 27, tzinfo=UTC),
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


def test_the_service_fields_are_utc_z_strings_on_the_wire(document: bytes) -> None:
    body = json.loads(document)["report"]
    assert body["in_clinical_use"] is False
    assert body["left_service_at"] == "2026-03-02T08:20:05.000250Z"
    assert body["returned_to_service_at"] == "2026-03-02T08:27:00Z"


def test_a_report_from_an_agent_without_the_service_fields_is_accepted(
    identity: DeviceIdentity, document: bytes
) -> None:
    body = json.loads(document)["report"]
    for name in ("in_clinical_use", "left_service_at", "returned_to_service_at"):
        del body[name]
    content = verify_report(identity.public_key_bytes, resign(body, identity)).report.content
    assert (content.in_clinical_use, content.left_service_at) == (None, None)
    assert content.returned_to_service_at is None


def test_a_device_that_left_and_came_back_in_the_same_instant_is_well_formed(
    identity: DeviceIdentity, document: bytes
) -> None:
    body = json.loads(document)["report"]
    body["returned_to_service_at"] = body["left_service_at"]
    content = verify_report(identity.public_key_bytes, resign(body, identity)).report.content
    assert content.left_service_at == content.returned_to_service_at
    assert content.left_service_at is not None
    assert content.left_service_at - T0 == timedelta(minutes=-10, seconds=5, microseconds=250)


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
        {"in_clinical_use": "no"},
        {"in_clinical_use": 0},
        {"left_service_at": "2026-03-02T08:20:05"},
        {"left_service_at": "2026-03-02T09:20:05+01:00"},
        {"left_service_at": 1772439605},
        {"returned_to_service_at": "later"},
        {"left_service_at": None},  # returned without having left
        {"returned_to_service_at": "2026-03-02T08:20:04Z"},  # back before it left
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
