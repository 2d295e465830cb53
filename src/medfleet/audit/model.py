"""The pure core of the audit trail: canonical bytes, event hashes and chain verification.

An event's hash is the SHA-256 of its canonical JSON (sorted keys, no insignificant white space,
UTF-8), which includes the previous event's hash, so changing, removing or reordering any event
breaks the chain at that point. Signed checkpoints of the chain head let a verifier detect a
truncated tail and a chain rewritten by someone who recomputed the hashes.

Nothing here does I/O: the verifier consumes rows and checkpoints from any source.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

GENESIS_HASH = "0" * 64
CHECKPOINT_DOMAIN = b"medfleet-audit-checkpoint-v1\n"

JSONValue = Any


def canonical_json(value: JSONValue) -> str:
    """Serialize ``value`` as canonical JSON text: sorted keys, compact, non-ASCII kept.

    Raises:
        ValueError: the value holds something JSON cannot carry exactly (NaN, infinity).
        TypeError: the value holds a type JSON does not know.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_time(moment: datetime) -> str:
    """The one textual form of a timestamp inside hashed bytes: UTC, microseconds, offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _json_str_or_null(value: str | None) -> str:
    return "null" if value is None else str(encode_basestring(value))


def event_bytes(
    seq: int,
    at: datetime,
    actor: str,
    org_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    payload_json: str,
    prev_hash: str,
) -> bytes:
    """The canonical bytes of one event, equal to ``canonical_json`` of the event document.

    Built by formatting rather than ``json.dumps`` because verification runs it for every
    event; ``payload_json`` must already be canonical JSON (as stored).
    """
    org = "null" if org_id is None else str(int(org_id))
    return (
        '{"action":%s,"actor":%s,"at":"%s","object_id":%s,"object_type":%s,"org_id":%s,'
        '"payload":%s,"prev_hash":"%s","seq":%d}'
        % (
            encode_basestring(action),
            encode_basestring(actor),
            canonical_time(at),
            encode_basestring(object_id),
            encode_basestring(object_type),
            org,
            payload_json,
            prev_hash,
            seq,
        )
    ).encode()


def event_hash(canonical: bytes) -> str:
    """SHA-256 hex digest of an event's canonical bytes."""
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class NewEvent:
    """What a use case says happened; the log adds sequence, time and hashes."""

    actor: str
    org_id: int | None
    action: str
    object_type: str
    object_id: str
    payload: Mapping[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement that the chain had ``hash`` at sequence number ``seq``."""

    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        """The bytes the signature covers."""
        return checkpoint_message(self.seq, self.hash, self.signed_at)


def checkpoint_message(seq: int, chain_hash: str, signed_at: datetime) -> bytes:
    """Domain-separated bytes signed for a checkpoint."""
    body = canonical_json({"hash": chain_hash, "seq": seq, "signed_at": canonical_time(signed_at)})
    return CHECKPOINT_DOMAIN + body.encode()


class Problem(enum.StrEnum):
    """Why verification failed, at the first broken sequence number."""

    MODIFIED = "modified"
    DELETED = "deleted"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    BAD_CHECKPOINT = "bad_checkpoint"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of verifying the whole chain."""

    ok: bool
    events_checked: int
    last_seq: int
    last_hash: str
    checkpoints_checked: int = 0
    first_bad_seq: int | None = None
    problem: Problem | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, JSONValue]:
        """JSON-ready form for ``--json`` output and the API."""
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "checkpoints_checked": self.checkpoints_checked,
            "first_bad_seq": self.first_bad_seq,
            "problem": None if self.problem is None else self.problem.value,
            "detail": self.detail,
        }


# (seq, at, actor, org_id, action, object_type, object_id, payload_json, prev_hash, hash)
EventRow = tuple[int, datetime, str, "int | None", str, str, str, str, str, str]
SignatureCheck = Callable[[Checkpoint], bool]
HashLookup = Callable[[str], "int | None"]


def _broken(
    checked: int,
    seq: int,
    last: tuple[int, str],
    problem: Problem,
    detail: str,
    checkpoints: int = 0,
) -> VerifyResult:
    return VerifyResult(
        ok=False,
        events_checked=checked,
        last_seq=last[0],
        last_hash=last[1],
        checkpoints_checked=checkpoints,
        first_bad_seq=seq,
        problem=problem,
        detail=detail,
    )


def _diagnose_link(
    row: EventRow, expected_prev: str, previous_seq: int, find_seq_by_hash: HashLookup
) -> tuple[int, Problem, str]:
    """Explain a row whose own hash is right but whose ``prev_hash`` is not the previous hash."""
    seq, prev_hash = row[0], row[8]
    linked_seq = find_seq_by_hash(prev_hash)
    if linked_seq is not None and linked_seq != previous_seq:
        return (
            seq,
            Problem.REORDERED,
            f"event {seq} follows event {linked_seq} in the chain but is stored after "
            f"event {previous_seq}",
        )
    return (
        previous_seq,
        Problem.MODIFIED,
        f"event {previous_seq} was changed and its hash recomputed; event {seq} still links "
        f"to its original hash {prev_hash[:16]}…",
    )


def verify_chain(
    rows: Iterable[EventRow],
    checkpoints: Iterable[Checkpoint],
    signature_ok: SignatureCheck,
    find_seq_by_hash: HashLookup,
) -> VerifyResult:
    """Verify events in sequence order against each other and against signed checkpoints.

    ``rows`` must be ordered by ``seq``. ``checkpoints`` are every signed statement about the
    chain (history and head); each must carry a valid signature and match the chain at its
    sequence number, and none may lie beyond the last event (that is a truncated tail).
    ``find_seq_by_hash`` is only called to explain the first break.
    """
    wanted = sorted(checkpoints, key=lambda c: c.seq)
    for checkpoint in wanted:
        if not signature_ok(checkpoint):
            return _broken(
                0,
                checkpoint.seq,
                (0, GENESIS_HASH),
                Problem.BAD_CHECKPOINT,
                f"checkpoint at event {checkpoint.seq} has an invalid signature "
                f"(key {checkpoint.key_id})",
            )
    pending = iter(wanted)
    next_checkpoint = next(pending, None)
    checked = 0
    previous_seq, previous_hash = 0, GENESIS_HASH
    sha256 = hashlib.sha256
    for row in rows:
        seq, at, actor, org_id, action, otype, oid, payload, prev_hash, stored_hash = row
        if seq != previous_seq + 1:
            if seq <= previous_seq:
                return _broken(
                    checked,
                    seq,
                    (previous_seq, previous_hash),
                    Problem.REORDERED,
                    f"event {seq} is stored after event {previous_seq}",
                )
            missing = (
                f"event {previous_seq + 1}"
                if seq == previous_seq + 2
                else f"events {previous_seq + 1}..{seq - 1}"
            )
            return _broken(
                checked,
                previous_seq + 1,
                (previous_seq, previous_hash),
                Problem.DELETED,
                f"{missing} missing",
            )
        computed = sha256(
            event_bytes(seq, at, actor, org_id, action, otype, oid, payload, prev_hash)
        ).hexdigest()
        if computed != stored_hash:
            return _broken(
                checked,
                seq,
                (previous_seq, previous_hash),
                Problem.MODIFIED,
                f"event {seq} content does not match its hash",
            )
        if prev_hash != previous_hash:
            bad_seq, problem, detail = _diagnose_link(
                row, previous_hash, previous_seq, find_seq_by_hash
            )
            return _broken(checked, bad_seq, (previous_seq, previous_hash), problem, detail)
        while next_checkpoint is not None and next_checkpoint.seq == seq:
            if next_checkpoint.hash != stored_hash:
                return _broken(
                    checked,
                    seq,
                    (previous_seq, previous_hash),
                    Problem.MODIFIED,
                    f"the chain at event {seq} differs from the checkpoint signed at "
                    f"{canonical_time(next_checkpoint.signed_at)}: rewritten",
                )
            next_checkpoint = next(pending, None)
        checked += 1
        previous_seq, previous_hash = seq, stored_hash
    if next_checkpoint is not None:
        if next_checkpoint.seq <= 0:
            return _broken(
                checked,
                0,
                (previous_seq, previous_hash),
                Problem.BAD_CHECKPOINT,
                "checkpoint names a sequence number below 1",
            )
        return _broken(
            checked,
            previous_seq + 1,
            (previous_seq, previous_hash),
            Problem.TRUNCATED,
            f"events {previous_seq + 1}..{wanted[-1].seq} are missing: a signed "
            f"checkpoint covers event {wanted[-1].seq}",
        )
    return VerifyResult(
        ok=True,
        events_checked=checked,
        last_seq=previous_seq,
        last_hash=previous_hash,
        checkpoints_checked=len(wanted),
    )
