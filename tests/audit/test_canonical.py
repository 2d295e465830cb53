"""The canonical bytes of an event are, by definition, the canonical JSON of its document.

``event_text`` builds them by formatting for speed, and the verifier's loop
(``scan``) inlines the same formatting; these properties hold both to the definition.
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
    event_text,
    scan,
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
payloads = st.dictionaries(st.text(), json_values, max_size=5)
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


# (at, actor, org_id, action, object_type, object_id, payload) as stored
Fields = tuple[str, str, int | None, str, str, str, str]


def _row(fields: Fields) -> tuple[Any, ...]:
    digest = hashlib.sha256(event_text(1, *fields, GENESIS_HASH).encode()).hexdigest()
    return (1, *fields, GENESIS_HASH, digest)


stored_fields = st.tuples(
    moments.map(canonical_time),
    st.text(),
    org_ids,
    st.text(),
    st.text(),
    st.text(),
    payloads.map(canonical_json),
)


@given(fields=stored_fields)
def test_the_verifier_loop_accepts_exactly_what_event_text_hashes(fields: Fields) -> None:
    row = _row(fields)
    assert scan([row], GENESIS_STATE, {}) == (ChainState(1, 1, row[9]), None)


@given(fields=stored_fields, position=st.integers(min_value=1, max_value=7), data=st.data())
def test_changing_any_stored_field_is_rejected(
    fields: Fields, position: int, data: st.DataObject
) -> None:
    row = _row(fields)
    original = row[position]
    if position == 3:  # org_id: another int, NULL, or the text a type-confused database holds
        changed = data.draw(
            (org_ids | st.just("null") | st.just(str(original))).filter(
                lambda v: v != original or type(v) is not type(original)
            )
        )
    else:
        changed = data.draw(st.text().filter(lambda v: v != original))
    tampered = (*row[:position], changed, *row[position + 1 :])
    assert scan([tampered], GENESIS_STATE, {}) == (GENESIS_STATE, tampered)
