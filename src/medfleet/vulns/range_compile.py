"""OSV ranges compiled for fast, repeated evaluation (the matching engine's core). Pure.

``ranges.in_range`` parses every event version on every call; matching evaluates the same
ranges against many versions, so here each distinct (ordering, version text) is parsed once
(``VersionCache``) into what it orders by (``orderable``), and the bounds of all ranges of one
package key are sorted once into a ``Ladder``. A version's place on the ladder is found by
binary search; each compiled range is then its events as (kind, rank) pairs in ``in_range``'s
evaluation order, and evaluating it is a few integer comparisons (``in_compiled_range``). The
result is the same as ``in_range``'s for every version
(``tests/vulns/test_matching_equivalence.py`` checks this with hypothesis).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from univers import versions as uv

from medfleet.vulns.ranges import AffectedRange, EventKind, VersionClass

INTRODUCED_ZERO, INTRODUCED, INTRODUCED_AFTER, FIXED, LAST_AFFECTED, LIMIT = range(6)
_CODES = {
    EventKind.INTRODUCED: INTRODUCED,
    EventKind.INTRODUCED_AFTER: INTRODUCED_AFTER,
    EventKind.FIXED: FIXED,
    EventKind.LAST_AFFECTED: LAST_AFFECTED,
    EventKind.LIMIT: LIMIT,
}
_STARTS = frozenset({EventKind.INTRODUCED, EventKind.INTRODUCED_AFTER})
_INTRODUCED_KIND = EventKind.INTRODUCED

Orderable = Any
"""What a version is compared as: its univers ``value`` or the version itself (``orderable``)."""
CompiledEvents = tuple[tuple[int, int], ...]
CompiledRange = tuple[CompiledEvents, str] | str
"""A range's events as (kind code, rank) with its ``describe()`` text, or why it is unusable."""


def orderable(version: uv.Version) -> Orderable:
    """What orders exactly as ``version`` does, and is faster to compare.

    univers classes that do not define their own ``<`` order by their ``value`` field alone
    (attrs ``order=True`` on ``value`` only), so comparing the values gives the same result
    without attrs building a tuple for every comparison; other classes (OpenSSL's, Alpine's)
    are compared as they are.
    """
    return version.value if type(version).__lt__ is _ATTRS_LT else version


_ATTRS_LT = uv.Version.__lt__


class Unreadable(NamedTuple):
    """A version text that its ordering cannot read, and why."""

    message: str


class VersionCache:
    """Parses each (ordering, version text) once; a failure is kept as ``Unreadable``."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[VersionClass, str], Orderable] = {}

    def parse(self, cls: VersionClass, text: str, what: str = "version") -> Orderable:
        """The version as ``orderable``, or ``Unreadable("<what> '<text>' is not a valid <Kind>
        version")``."""
        parsed = self._parsed.get((cls, text))
        if parsed is None:
            try:
                parsed = orderable(cls(text))
            except (ValueError, TypeError, uv.InvalidVersion):
                kind = cls.__name__.removesuffix("Version")
                parsed = Unreadable(f"{text!r} is not a valid {kind} version")
            self._parsed[(cls, text)] = parsed
        if isinstance(parsed, Unreadable):
            return Unreadable(f"{what} {parsed.message}")
        return parsed


class Ladder:
    """Distinct bounds in one ordering, ascending; bound ``j`` has rank ``2*j``."""

    def __init__(self, bounds: Iterable[Orderable]) -> None:
        self.bounds: list[Orderable] = []
        for bound in sorted(bounds):
            if not self.bounds or self.bounds[-1] < bound:
                self.bounds.append(bound)

    def position(self, version: Orderable) -> int:
        """``2*j`` when ``version`` equals bound ``j``; ``2*j - 1`` when ``j`` bounds are below."""
        index = bisect_left(self.bounds, version)
        if index < len(self.bounds) and not version < self.bounds[index]:
            return 2 * index
        return 2 * index - 1


def in_compiled_range(position: int, events: CompiledEvents) -> bool:
    """``ranges.in_range`` for a version at ``position`` on the ladder its range was ranked on."""
    affected = False
    for code, rank in events:
        if code == INTRODUCED_ZERO:
            affected = True
        elif position < rank:
            break  # events are in rank order: none of the later ones can apply either
        elif code == INTRODUCED:
            affected = True
        elif code == INTRODUCED_AFTER:
            affected = affected or position > rank
        elif code == FIXED:
            affected = False
        elif code == LAST_AFFECTED:
            affected = affected and position == rank
        else:  # limit: nothing at or above it is affected
            return False
    return affected


def compile_key(
    entries: Sequence[tuple[VersionClass, Sequence[AffectedRange]]], cache: VersionCache
) -> tuple[dict[VersionClass, Ladder], list[tuple[CompiledRange, ...]]]:
    """The ladders (one per ordering) of one key's rules and each rule's compiled ranges.

    ``entries`` holds each rule's ordering and ranges; the result's list is aligned with it.
    Each distinct bound is parsed once and ranked once (a walk over the sorted bounds).
    """
    texts: dict[VersionClass, set[str]] = {cls: set() for cls, _ in entries}
    for cls, ranges in entries:
        seen = texts[cls]
        for affected_range in ranges:
            seen.update(event.version for event in affected_range.events)
    ladders: dict[VersionClass, Ladder] = {}
    ranks: dict[VersionClass, dict[str, int]] = {}
    for cls, seen in texts.items():
        parsed = [(cache.parse(cls, text), text) for text in seen]
        ordered = sorted(
            (pair for pair in parsed if not isinstance(pair[0], Unreadable)), key=itemgetter(0)
        )
        ladder, rank = Ladder(()), {}
        for value, text in ordered:
            if not ladder.bounds or ladder.bounds[-1] < value:
                ladder.bounds.append(value)
            rank[text] = 2 * (len(ladder.bounds) - 1)
        ladders[cls], ranks[cls] = ladder, rank
    compiled = [
        tuple(_compile_range(r, cls, ranks[cls], cache) for r in ranges) for cls, ranges in entries
    ]
    return ladders, compiled


def _compile_range(
    affected_range: AffectedRange, cls: VersionClass, rank: dict[str, int], cache: VersionCache
) -> CompiledRange:
    events = affected_range.events
    if not any(event.kind in _STARTS for event in events):
        return f"range '{affected_range.describe()}' has no introduced"
    keyed: list[tuple[bool, int, tuple[int, int]]] = []
    for event in events:
        kind, text = event.kind, event.version
        if kind is _INTRODUCED_KIND and text == "0":
            keyed.append((False, -1, (INTRODUCED_ZERO, -1)))
        elif text in rank:
            keyed.append((True, rank[text], (_CODES[kind], rank[text])))
        else:  # not ranked: its text cannot be read in this ordering
            failure: Unreadable = cache.parse(cls, text, kind.value)
            return failure.message
    # ranges.in_range sorts by (not introduced-0, version), stably: the same on ranks.
    keyed.sort(key=lambda item: (item[0], item[1]))
    return tuple(item[2] for item in keyed), affected_range.describe()


def decide(
    version: str | None,
    listed: frozenset[str],
    compiled: tuple[CompiledRange, ...],
    position: int | str | None,
) -> tuple[str, bool] | None:
    """One rule's verdict on a version: ``(reason, True)`` when affected, ``(why, False)`` when
    it cannot be decided, None when not affected.

    ``position`` is the version's ladder position (or why it cannot be parsed); it is needed
    only when the version is not listed and there are ranges (None is fine otherwise).
    """
    if version is None:
        return "the component has no version to compare", False
    if version in listed:
        return f"version {version} is listed as affected", True
    if not compiled:
        return None
    if isinstance(position, str):
        return position, False
    assert position is not None, "a version with ranges to check needs its position"
    for entry in compiled:
        if isinstance(entry, str):
            return entry, False
        events, described = entry
        if in_compiled_range(position, events):
            return f"{version} is in the range {described}", True
    return None
