"""The canonical bytes of an event are, by definition, the canonical JSON of its document.

``event_text`` builds them by formatting for speed; the verifier (``scan``) checks each link
by the end of the text alone. These properties hold both to the definition.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from medfleet.audit.model import (
    GENESIS_HASH,
    GENESIS_STATE,
    ChainState,
    canonical_json,
    canonical_time,
    declared_prev_hash,
    event_text,
    link_suffix,
    scan,
    with_seq,
)

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Keys the event document itself uses, nested in the payload, must not confuse the link check.
keys = st.sampled_from(["seq", "prev_hash", "payload"]) | st.text()
payloads = st.dictionaries(keys, json_values, max_size=5)
moments = st.datetimes(timezones=st.timezones())
hex_hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)
org_ids = st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1)


@given(
    seq=st.integers(min_value=1, max_value=2**62),
    at=moments,
    actor=st.text(),
    org_id=org_ids,
    action=st.text(),
    object_type=st.text(),
    object_id=st.text(),
    payload=payloads,
    prev_hash=hex_hashes,
)
def test_event_text_is_the_canonical_json_of_the_document(
    seq: int,
    at: datetime,
    actor: str,
    org_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    payload: dict[str, Any],
    prev_hash: str,
) -> None:
    document = {
        "seq": seq,
        "at": canonical_time(at),
        "actor": actor,
        "org_id": org_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    produced = event_text(
        seq, canonical_time(at), actor, org_id, action, object_type, object_id,
        canonical_json(payload), prev_hash,
    ).encode()  # fmt: skip
    assert produced == canonical_json(document).encode()
    assert json.loads(produced) == json.loads(canonical_json(document))


# (at, actor, org_id, action, object_type, object_id, payload) as the writer has them
Fields = tuple[str, str, int | None, str, str, str, str]

written_fields = st.tuples(
    moments.map(canonical_time),
    st.text(),
    org_ids,
    st.text(),
    st.text(),
    st.text(),
    payloads.map(canonical_json),
)


def _row(seq: int, fields: Fields, prev_hash: str) -> tuple[int, str, str]:
    doc = event_text(seq, *fields, prev_hash)
    return (seq, doc, hashlib.sha256(doc.encode()).hexdigest())


@given(fields=written_fields, seq=st.integers(min_value=1, max_value=2**62), prev=hex_hashes)
def test_the_link_helpers_read_what_the_writer_wrote(fields: Fields, seq: int, prev: str) -> None:
    _, doc, _ = _row(seq, fields, prev)
    assert doc.endswith(link_suffix(prev, seq))
    assert declared_prev_hash(doc) == prev
    assert with_seq(doc, seq + 1) == event_text(seq + 1, *fields, prev)


@given(first=written_fields, second=written_fields)
def test_the_verifier_accepts_exactly_what_the_writer_wrote(first: Fields, second: Fields) -> None:
    one = _row(1, first, GENESIS_HASH)
    two = _row(2, second, one[2])
    assert scan([one, two], GENESIS_STATE, {}) == (ChainState(2, 2, two[2]), None)


@given(fields=written_fields, data=st.data())
def test_changing_any_character_of_the_text_is_rejected(
    fields: Fields, data: st.DataObject
) -> None:
    seq, doc, digest = _row(1, fields, GENESIS_HASH)
    position = data.draw(st.integers(min_value=0, max_value=len(doc) - 1))
    replacement = data.draw(st.characters().filter(lambda c: c != doc[position]))
    tampered = (seq, doc[:position] + replacement + doc[position + 1 :], digest)
    assert scan([tampered], GENESIS_STATE, {}) == (GENESIS_STATE, tampered)


@given(fields=written_fields, seq=st.integers(min_value=2, max_value=2**62))
def test_a_text_written_for_another_place_is_rejected(fields: Fields, seq: int) -> None:
    moved = _row(seq, fields, GENESIS_HASH)  # hashes fine, but names another sequence number
    assert scan([(1, moved[1], moved[2])], GENESIS_STATE, {})[1] is not None
    relinked = _row(1, fields, "1" * 64)  # hashes fine, but follows another event
    assert scan([relinked], GENESIS_STATE, {})[1] == relinked
