"""Signed device status reports: the document, how it is signed, and its verification.

A report states which version runs where (the active slot and its version) and how the last
install attempt stands. The document is canonical JSON (sorted keys, no whitespace, UTF-8)::

    {"report": {...}, "signature": {"keyid": "<sha256 of the raw public key>", "sig": "<hex>"}}

and the Ed25519 signature covers ``REPORT_DOMAIN + canonical_json(report)``, so a signature
made for any other purpose with the same key never verifies as a report.

Besides the install state, a report says whether the device was in clinical use when it was
made (``in_clinical_use``) and, once an attempt took the device out of clinical service, when
it left and when it returned (``left_service_at`` / ``returned_to_service_at``, ISO 8601 UTC
with a ``Z`` suffix; see ``medfleet.agent.install_state`` for the exact instants). These three
keys may be absent (agents older than them did not send them), which means null.

``verify_report`` is pure and is what the server imports: it rejects unsigned, wrongly signed,
malformed and non-canonical documents. Replay and foreign-device checks are the server's: it
calls ``verify_report`` with the key of the device the request authenticates as, then checks
``report.device_id`` against that device and accepts only a ``seq`` above the last one it
stored, acknowledging an exact resend of a stored ``(device_id, seq)`` without storing it again.

Nothing here touches a file or the network; the device's persisted, retried delivery of signed
reports is ``medfleet.agent.outbox``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from medfleet.agent.contract import ContractError, check_name, parse_utc, utc_text
from medfleet.agent.errors import MalformedReportError, ReportSignatureError, UnsignedReportError
from medfleet.agent.identity import DeviceIdentity, key_id_of
from medfleet.agent.install_state import Outcome, Phase

REPORT_DOMAIN = b"medfleet device status report v1\x00"
MAX_DOCUMENT_BYTES = 64 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the one byte form of a JSON value.

    Raises:
        UnicodeEncodeError: a string holds a lone surrogate (not representable in UTF-8).
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """The target of the install attempt a report describes."""

    path: str
    version: str
    version_number: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ReportContent:
    """What the device states: the running version, where its last install stands, whether it
    is in clinical use, and when the attempt took it out of service and back (aware UTC)."""

    active_slot: str
    active_version: str | None
    active_version_number: int | None
    install_phase: str
    outcome: str | None
    detail: str | None
    target: ReportTarget | None
    in_clinical_use: bool | None = None
    left_service_at: datetime | None = None
    returned_to_service_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The content's keys of the ``report`` object (instants as ``utc_text``)."""
        left, returned = self.left_service_at, self.returned_to_service_at
        return {
            "active_slot": self.active_slot,
            "active_version": self.active_version,
            "active_version_number": self.active_version_number,
            "install_phase": self.install_phase,
            "outcome": self.outcome,
            "detail": self.detail,
            "target": None if self.target is None else asdict(self.target),
            "in_clinical_use": self.in_clinical_use,
            "left_service_at": None if left is None else utc_text(left),
            "returned_to_service_at": None if returned is None else utc_text(returned),
        }


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A report as signed: the content plus who says it, in which order, and when."""

    device_id: str
    seq: int
    time: datetime
    content: ReportContent

    def to_dict(self) -> dict[str, Any]:
        """The ``report`` object of the document."""
        stamp = self.time.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"
        return {
            "device_id": self.device_id,
            "seq": self.seq,
            "time": stamp,
        } | self.content.to_dict()


@dataclass(frozen=True, slots=True)
class ReportDocument:
    """A verified report: its content and the key that signed it."""

    report: StatusReport
    key_id: str
    signature: bytes


def sign_report(report: StatusReport, identity: DeviceIdentity) -> bytes:
    """The signed, canonical document for ``report``."""
    body = report.to_dict()
    signature = identity.sign(REPORT_DOMAIN + canonical_json(body))
    return canonical_json(
        {"report": body, "signature": {"keyid": identity.key_id, "sig": signature.hex()}}
    )


def _malformed(message: str) -> NoReturn:
    raise MalformedReportError(message)


def _reject_constant(value: str) -> NoReturn:
    _malformed(f"{value} is not allowed in a report")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        _malformed("duplicate key in report document")
    return result


def _get(data: dict[str, Any], name: str, kind: type, *, optional: bool = False) -> Any:
    value = data[name]
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        _malformed(f"report field {name!r} must be {kind.__name__}")
    return value


def _exact_keys(
    data: Any, keys: set[str], what: str, optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(data, dict) or not keys <= set(data) <= keys | optional:
        listed = f"exactly {sorted(keys)}" + (
            f" and optionally {sorted(optional)}" * bool(optional)
        )
        _malformed(f"{what} must be an object with {listed}")
    return data


# The server records "no report yet" as 0 and accepts only a higher seq: devices start at 1.
FIRST_SEQ = 1
OPTIONAL_REPORT_KEYS = frozenset({"in_clinical_use", "left_service_at", "returned_to_service_at"})
REPORT_KEYS = {
    "device_id",
    "seq",
    "time",
    "active_slot",
    "active_version",
    "active_version_number",
    "install_phase",
    "outcome",
    "detail",
    "target",
}
TARGET_KEYS = {"path", "version", "version_number", "sha256"}


def _instant(data: dict[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value is None:
        return None
    try:
        return parse_utc(f"report {name}", value)
    except ContractError as exc:
        raise MalformedReportError(str(exc)) from exc


def _service_fields(data: dict[str, Any]) -> tuple[bool | None, datetime | None, datetime | None]:
    in_use = data.get("in_clinical_use")
    if in_use is not None and not isinstance(in_use, bool):
        _malformed("report field 'in_clinical_use' must be true, false or null")
    left = _instant(data, "left_service_at")
    returned = _instant(data, "returned_to_service_at")
    if returned is not None and (left is None or returned < left):
        _malformed("report returned_to_service_at needs an earlier or equal left_service_at")
    return in_use, left, returned


def report_from_dict(data: Any) -> StatusReport:
    """Parse a ``report`` object strictly.

    Raises:
        MalformedReportError: a key is missing or extra, or a value is mistyped or invalid.
    """
    data = _exact_keys(data, REPORT_KEYS, "report", OPTIONAL_REPORT_KEYS)
    try:
        device_id = check_name("device id", _get(data, "device_id", str))
    except ContractError as exc:
        raise MalformedReportError(str(exc)) from exc
    seq = _get(data, "seq", int)
    text = _get(data, "time", str)
    try:
        time = datetime.fromisoformat(text)
    except ValueError:
        _malformed("report time is not ISO 8601")
    if not text.endswith("Z") or time.utcoffset() != timedelta(0):
        _malformed("report time must be UTC with a 'Z' suffix")
    if seq < 0 or data["active_slot"] not in ("a", "b"):
        _malformed("report seq must be >= 0 and active_slot 'a' or 'b'")
    phase, outcome = data["install_phase"], data["outcome"]
    if phase not in set(Phase) or (outcome is not None and outcome not in set(Outcome)):
        _malformed("report install_phase or outcome is unknown")
    target = data["target"]
    if target is not None:
        target = _exact_keys(target, TARGET_KEYS, "report target")
        if not _HEX64.fullmatch(_get(target, "sha256", str)):
            _malformed("report target sha256 must be 64 lower-case hex digits")
        target = ReportTarget(
            path=_get(target, "path", str),
            version=_get(target, "version", str),
            version_number=_get(target, "version_number", int),
            sha256=target["sha256"],
        )
    in_use, left, returned = _service_fields(data)
    content = ReportContent(
        active_slot=data["active_slot"],
        active_version=_get(data, "active_version", str, optional=True),
        active_version_number=_get(data, "active_version_number", int, optional=True),
        install_phase=phase,
        outcome=outcome,
        detail=_get(data, "detail", str, optional=True),
        target=target,
        in_clinical_use=in_use,
        left_service_at=left,
        returned_to_service_at=returned,
    )
    return StatusReport(device_id, seq, time, content)


def verify_report(public_key_bytes: bytes, document: bytes) -> ReportDocument:
    """Verify a report document against a device's raw Ed25519 public key.

    Raises:
        UnsignedReportError: the document has no signature.
        ReportSignatureError: signed with another key, or the signature does not verify.
        MalformedReportError: too big, not canonical JSON, or not a well-formed report.
    """
    if len(document) > MAX_DOCUMENT_BYTES:
        _malformed(f"report document exceeds {MAX_DOCUMENT_BYTES} bytes")
    try:
        value = json.loads(
            document.decode(),
            object_pairs_hook=_unique_keys,
            parse_float=_reject_constant,
            parse_constant=_reject_constant,
        )
        canonical = canonical_json(value)
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise MalformedReportError(f"report document is not valid JSON: {exc}") from exc
    if isinstance(value, dict) and "report" in value and "signature" not in value:
        raise UnsignedReportError("report document is not signed")
    value = _exact_keys(value, {"report", "signature"}, "report document")
    if canonical != document:
        _malformed("report document is not in canonical form")
    signature = _exact_keys(value["signature"], {"keyid", "sig"}, "signature")
    key_id, sig = signature["keyid"], signature["sig"]
    if not isinstance(sig, str) or not _HEX128.fullmatch(sig) or not isinstance(key_id, str):
        _malformed("signature must hold a key id and 128 lower-case hex digits")
    if key_id != key_id_of(public_key_bytes):
        raise ReportSignatureError(f"report signed by key {key_id[:16]}…, not the device's key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(public_key_bytes)
        public_key.verify(bytes.fromhex(sig), REPORT_DOMAIN + canonical_json(value["report"]))
    except (InvalidSignature, ValueError) as exc:
        raise ReportSignatureError("report signature does not verify") from exc
    return ReportDocument(report_from_dict(value["report"]), key_id, bytes.fromhex(sig))
