"""The pure core of the audit trail: canonical bytes, event hashes and chain verification.

An event's hash is the SHA-256 of its canonical JSON (sorted keys, no insignificant white space,
UTF-8), which includes the previous event's hash, so changing, removing or reordering any event
breaks the chain at that point. Signed checkpoints of the chain head let a verifier detect a
truncated tail and a chain rewritten by someone who recomputed the hashes.

Nothing here does I/O: the verifier consumes stored rows (``StoredEvent``: the sequence number,
the canonical text exactly as it was hashed, and its hash in hex) from any source, in sequence
order, and can do so in independent slices that ``stitch`` joins up again.

The text is never parsed on the way: canonical JSON sorts its keys, so every event document ends
with ``,"prev_hash":"<hex>","seq":<n>}``, and an event links to the one before when its text ends
with exactly that for the previous hash and its own sequence number. The verifier need not
check that the rest is well-formed JSON: every accepted text is covered, through the hashes, by
a head that medfleet signed when it wrote that very text.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from itertools import chain
from json.encoder import encode_basestring
from typing import Any, NamedTuple, Protocol

GENESIS_HASH = "0" * 64
CHECKPOINT_DOMAIN = b"medfleet-audit-checkpoint-v1\n"

JSONValue = Any
_json_str: Callable[[str], str] = encode_basestring
_sha256 = hashlib.sha256


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)  # built once: ``json.dumps`` with options builds an encoder per call


def canonical_json(value: JSONValue) -> str:
    """Serialize ``value`` as canonical JSON text: sorted keys, compact, non-ASCII kept.

    Raises:
        ValueError: the value holds something JSON cannot carry exactly (NaN, infinity).
        TypeError: the value holds a type JSON does not know.
    """
    return _CANONICAL.encode(value)


def canonical_time(moment: datetime) -> str:
    """The one textual form of a timestamp inside hashed bytes: UTC, microseconds, offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_text(
    seq: int,
    at: str,
    actor: str,
    org_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    payload_json: str,
    prev_hash: str,
) -> str:
    """The canonical JSON text of one event document, from the values as they are stored.

    ``at`` is the canonical time text, ``payload_json`` canonical JSON and ``prev_hash`` hex.
    Built by formatting rather than ``json.dumps`` because verification runs it for every
    event. Every text field goes through JSON string encoding, so no stored value can shift the
    fields around it; ``org_id`` must be an ``int`` or ``None``.

    Raises:
        TypeError / ValueError: a field has the wrong type (seen only on tampered rows).
    """
    org = "null" if org_id is None else format(org_id, "d")
    return (
        f'{{"action":{_json_str(action)},"actor":{_json_str(actor)},"at":{_json_str(at)},'
        f'"object_id":{_json_str(object_id)},"object_type":{_json_str(object_type)},'
        f'"org_id":{org},"payload":{payload_json},"prev_hash":"{prev_hash}","seq":{seq:d}}}'
    )


def link_suffix(prev_hash: str, seq: int) -> str:
    """How the text of event ``seq`` ends when it follows the event whose hash is ``prev_hash``."""
    return f',"prev_hash":"{prev_hash}","seq":{seq:d}}}'


def declared_prev_hash(doc: object) -> str:
    """The previous hash an event's text names, or ``""`` when it names none (tampered text)."""
    if not isinstance(doc, str):
        return ""
    _, found, tail = doc.rpartition(',"prev_hash":"')
    return tail[:64] if found else ""


def with_seq(doc: str, seq: int) -> str:
    """The event text as it would read had it been written as event ``seq``."""
    head, found, _ = doc.rpartition(',"seq":')
    return f'{head},"seq":{seq:d}}}' if found else doc


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
    SCHEMA_CHANGED = "schema_changed"


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
        """JSON-ready form for ``--json`` output and the API: the fields by name."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["problem"] = None if self.problem is None else self.problem.value
        return values


# (seq, doc, hash) as stored: the canonical text that was hashed, and its hash in hex.
StoredEvent = tuple[int, str, str]
# Every checkpointed sequence number and the hashes signed for it.
CheckpointHashes = Mapping[int, Sequence[str]]


class ChainState(NamedTuple):
    """How far a scan got: events accepted, and the last accepted sequence number and hash."""

    checked: int = 0
    seq: int = 0
    hash: str = GENESIS_HASH


GENESIS_STATE = ChainState()


class SliceOutcome(NamedTuple):
    """A slice of the chain scanned on its own; ``stitch`` checks how it joins the one before."""

    first_seq: int
    first_prev_hash: str
    end: ChainState
    clean: bool


class ChainLookup(Protocol):
    """The two look-ups that explain a break (only called once, after the first break)."""

    def seq_of_hash(self, chain_hash: str) -> int | None:
        """The stored sequence number of the event whose hash is ``chain_hash``."""

    def successor_of(self, chain_hash: str) -> StoredEvent | None:
        """The stored event whose ``prev_hash`` is ``chain_hash``."""


def checkpoint_hashes(checkpoints: Iterable[Checkpoint]) -> dict[int, list[str]]:
    """The signed hashes by sequence number, as ``scan`` wants them."""
    found: dict[int, list[str]] = {}
    for checkpoint in checkpoints:
        found.setdefault(checkpoint.seq, []).append(checkpoint.hash)
    return found


def scan(
    rows: Iterable[StoredEvent], state: ChainState, signed: CheckpointHashes
) -> tuple[ChainState, StoredEvent | None]:
    """Accept events while each is intact; return the state reached and the first rejected row.

    An event is accepted when it has the next sequence number, its text ends with the link to
    the last accepted hash and its own sequence number (``link_suffix``), the text hashes to
    its stored hash, and that hash is every signed hash for its sequence number. ``rows`` must
    be in sequence order. This loop runs once per event, so ``link_suffix`` is inlined.
    """
    checked, last_seq, last_hash = state
    pending = iter(sorted(seq for seq in signed if seq > last_seq))
    next_signed = next(pending, 0)
    sha256 = _sha256
    row: StoredEvent | None = None
    for row in rows:
        seq, doc, stored_hash = row
        try:
            intact = (
                seq == last_seq + 1
                and doc.endswith(f',"prev_hash":"{last_hash}","seq":{seq:d}}}')
                and sha256(doc.encode()).hexdigest() == stored_hash
            )
        except (TypeError, ValueError, AttributeError):  # a value of the wrong type (SQLite)
            intact = False
        if not intact:
            return ChainState(checked, last_seq, last_hash), row
        if seq == next_signed:
            if any(signed_hash != stored_hash for signed_hash in signed[seq]):
                return ChainState(checked, last_seq, last_hash), row
            next_signed = next(pending, 0)
        checked += 1
        last_seq, last_hash = seq, stored_hash
    return ChainState(checked, last_seq, last_hash), None


def scan_slice(rows: Iterable[StoredEvent], signed: CheckpointHashes) -> SliceOutcome | None:
    """Scan one slice of the chain on its own; ``None`` when the slice is empty.

    Its predecessor is not known here, so the first event's sequence number and link are taken
    as given and reported; ``stitch`` checks them against the slice before.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return None
    link = declared_prev_hash(first[1])
    end, rejected = scan(chain((first,), iterator), ChainState(0, first[0] - 1, link), signed)
    return SliceOutcome(first[0], link, end, rejected is None)


def stitch(start: ChainState, outcomes: Iterable[SliceOutcome | None]) -> ChainState:
    """The state after the consecutive slices that join up and verified clean, in order.

    Stops at the first slice that is empty, does not continue the state reached, or held a
    rejected event (its accepted prefix still counts). Verifying on from the returned state with
    ``verify_chain`` gives exactly the result of one scan from ``start``.
    """
    state = start
    for outcome in outcomes:
        if outcome is None or (outcome.first_seq, outcome.first_prev_hash) != (
            state.seq + 1,
            state.hash,
        ):
            break
        state = outcome.end._replace(checked=state.checked + outcome.end.checked)
        if not outcome.clean:
            break
    return state


def check_signatures(
    checkpoints: Sequence[Checkpoint], signature_ok: Callable[[Checkpoint], bool]
) -> VerifyResult | None:
    """The failure for the first checkpoint (by seq) that is unsigned or untrusted, else None."""
    for checkpoint in sorted(checkpoints, key=lambda c: c.seq):
        if checkpoint.seq < 1:
            detail = f"a checkpoint names sequence number {checkpoint.seq}, below 1"
        elif not signature_ok(checkpoint):
            detail = (
                f"checkpoint at event {checkpoint.seq} has an invalid signature "
                f"(key {checkpoint.key_id or 'none'})"
            )
        else:
            continue
        return _broken(GENESIS_STATE, checkpoint.seq, Problem.BAD_CHECKPOINT, detail)
    return None


def _broken(state: ChainState, seq: int, problem: Problem, detail: str) -> VerifyResult:
    checked, last_seq, last_hash = state
    return VerifyResult(False, checked, last_seq, last_hash, 0, seq, problem, detail)


def _written_as(row: StoredEvent, seq: int) -> bool:
    """True when ``row``'s text hashes to its stored hash once its sequence number is ``seq``."""
    try:
        return _sha256(with_seq(row[1], seq).encode()).hexdigest() == row[2]
    except (TypeError, ValueError, AttributeError):
        return False


def _diagnose(
    row: StoredEvent, state: ChainState, checkpoints: Sequence[Checkpoint], lookup: ChainLookup
) -> tuple[int, Problem, str]:
    """Explain why ``scan`` rejected ``row`` after accepting everything up to ``state``."""
    seq, prev_hash, wanted = row[0], declared_prev_hash(row[1]), state.seq + 1
    if seq == wanted and prev_hash == state.hash:
        if not _written_as(row, seq):
            return seq, Problem.MODIFIED, f"event {seq} content does not match its hash"
        signed = next((c for c in checkpoints if c.seq == seq and c.hash != row[2]), None)
        when = "" if signed is None else f" signed at {canonical_time(signed.signed_at)}"
        detail = f"the chain at event {seq} differs from the checkpoint{when}: rewritten"
        return seq, Problem.MODIFIED, detail
    successor = lookup.successor_of(state.hash)
    if successor is not None and successor[0] != wanted and _written_as(successor, wanted):
        detail = f"event {wanted} follows event {state.seq} in the chain but is stored as event"
        return wanted, Problem.REORDERED, f"{detail} {successor[0]}"
    if seq > wanted:
        missing = f"event {wanted}" if seq == wanted + 1 else f"events {wanted}..{seq - 1}"
        return wanted, Problem.DELETED, f"{missing} missing"
    if seq != wanted or not _written_as(row, seq):
        return seq, Problem.MODIFIED, f"event {seq} content does not match its hash"
    linked_seq = lookup.seq_of_hash(prev_hash)
    if linked_seq is not None and linked_seq != state.seq:
        detail = f"event {seq} follows event {linked_seq} in the chain but is stored after event"
        return seq, Problem.REORDERED, f"{detail} {state.seq}"
    if state.seq == 0:
        return seq, Problem.MODIFIED, f"event {seq} does not start from the genesis hash"
    return (
        state.seq,
        Problem.MODIFIED,
        f"event {state.seq} was changed and its hash recomputed; event {seq} still links "
        f"to its original hash {prev_hash[:16]}…",
    )


def verify_chain(
    rows: Iterable[StoredEvent],
    checkpoints: Sequence[Checkpoint],
    lookup: ChainLookup,
    start: ChainState = GENESIS_STATE,
    signed_upto: int | None = None,
) -> VerifyResult:
    """Verify stored events in sequence order against each other and against checkpoints.

    ``rows`` are the events after ``start.seq`` (``start`` is where a scan, or ``stitch``, got
    to); ``checkpoints`` are every signed statement about the chain, already checked with
    ``check_signatures``. Each must match the chain at its sequence number, and none may lie
    beyond the last event (that is a truncated tail). Events beyond ``signed_upto`` (the signed
    head) were not appended by medfleet. The first problem is reported with its sequence number.
    """
    state, rejected = scan(rows, start, checkpoint_hashes(checkpoints))
    if rejected is not None:
        seq, problem, detail = _diagnose(rejected, state, checkpoints, lookup)
        return _broken(state, seq, problem, detail)
    beyond = max((c.seq for c in checkpoints), default=0)
    if beyond > state.seq:
        detail = f"events {state.seq + 1}..{beyond} are missing: a signed checkpoint covers"
        return _broken(state, state.seq + 1, Problem.TRUNCATED, f"{detail} event {beyond}")
    if signed_upto is not None and state.seq > signed_upto:
        first = signed_upto + 1
        detail = f"events {first}..{state.seq} lie beyond the signed head (event {signed_upto})"
        return _broken(state, first, Problem.MODIFIED, f"{detail}: not appended by medfleet")
    return VerifyResult(
        ok=True,
        events_checked=state.checked,
        last_seq=state.seq,
        last_hash=state.hash,
        checkpoints_checked=len(checkpoints),
    )
