"""``db.locks``: keys stay stable (processes of different versions must agree on them)."""

from __future__ import annotations

from medfleet.db.locks import lock_key


def test_keys_are_stable_signed_64_bit_and_distinct() -> None:
    assert lock_key("vulns.identity") == KEY_OF_VULNS_IDENTITY
    assert lock_key("vulns.identity") != lock_key("vulns.identity2")
    for name in ("a", "vulns.identity", "x" * 1000):
        assert -(2**63) <= lock_key(name) < 2**63


KEY_OF_VULNS_IDENTITY = 1307988401482646783  # computed once when the key was introduced
