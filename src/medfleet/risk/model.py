"""Risk-file deltas: what a change request does to the ISO 14971 risk file, and its analysis.

Pure (stdlib only). A ``RiskDelta`` lists, per item key, the content before (from the risk file
the delta was proposed against; ``None`` for an addition) and after (``None`` for a removal).

* ``RiskDelta.overlay(file)`` is the file as the delta would leave it (lenient: the delta wins).
* ``RiskDelta.apply_to(file)`` is the same, strict: every ``before`` must still be what the file
  holds, and the result must have no dangling references; this is what release merges.
* ``compose(first, second)`` judges several changes together: per key the earliest ``before`` and
  the latest ``after``; an item added and then removed, or changed back, disappears.
* ``RiskDelta.analyse(file, matrix)`` is what the regulatory assessment reads: per situation
  touched (directly, or through a control of it) the severity *before mitigation* before and after
  the delta, whether that harm is significant, and whether the situation was and will be
  effectively mitigated (acceptable residual risk); per control touched, its action, kind,
  situations and whether it is *redundant* (added only to situations that were already
  effectively mitigated, whose other controls the delta leaves alone).

The item types and the matrix are re-exported here, so callers import one module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from medfleet.risk.errors import InvalidDeltaError, StaleDeltaError
from medfleet.risk.items import (
    ControlKind,
    Hazard,
    HazardousSituation,
    Item,
    ItemKind,
    RiskControl,
    parse_key,
    sort_key,
)
from medfleet.risk.matrix import DEFAULT_MATRIX, Acceptability, RiskMatrix
from medfleet.risk.riskfile import RiskFile

__all__ = [
    "DEFAULT_MATRIX",
    "Acceptability",
    "ControlImpact",
    "ControlKind",
    "DeltaAction",
    "DeltaAnalysis",
    "DeltaEntry",
    "Hazard",
    "HazardImpact",
    "HazardousSituation",
    "Item",
    "ItemKind",
    "RiskControl",
    "RiskDelta",
    "RiskFile",
    "RiskMatrix",
    "SituationImpact",
    "compose",
]


class DeltaAction(enum.StrEnum):
    """What a delta does to one item."""

    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"


def _content(item: Item | None) -> dict[str, Any] | None:
    return None if item is None else item.content()


@dataclass(frozen=True)
class DeltaEntry:
    """One item's change: ``before`` is ``None`` exactly when added, ``after`` when removed."""

    kind: ItemKind
    key: str
    action: DeltaAction
    before: Item | None
    after: Item | None

    def __post_init__(self) -> None:
        if parse_key(self.key)[0] is not self.kind:
            raise InvalidDeltaError(f"{self.key} is not a {self.kind.value} key")
        expected = {
            DeltaAction.ADDED: (False, True),
            DeltaAction.MODIFIED: (True, True),
            DeltaAction.REMOVED: (True, False),
        }[self.action]
        if (self.before is not None, self.after is not None) != expected:
            raise InvalidDeltaError(f"{self.key}: content does not fit {self.action.value}")
        for item in (self.before, self.after):
            if item is not None and (item.key != self.key or item.item_kind is not self.kind):
                raise InvalidDeltaError(f"{self.key}: content of another item ({item.key})")
        if self.action is DeltaAction.MODIFIED and self.before == self.after:
            raise InvalidDeltaError(f"{self.key}: a modification must change something")

    @classmethod
    def between(cls, before: Item | None, after: Item | None) -> DeltaEntry | None:
        """The entry turning ``before`` into ``after``; ``None`` when that changes nothing."""
        if before == after or (before is None and after is None):
            return None
        item = after if after is not None else before
        assert item is not None
        action = (
            DeltaAction.ADDED
            if before is None
            else DeltaAction.REMOVED
            if after is None
            else DeltaAction.MODIFIED
        )
        return cls(item.item_kind, item.key, action, before, after)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready entry."""
        return {
            "kind": self.kind.value,
            "key": self.key,
            "action": self.action.value,
            "before": _content(self.before),
            "after": _content(self.after),
        }


@dataclass(frozen=True)
class HazardImpact:
    """A hazard the delta adds, modifies or removes."""

    key: str
    action: DeltaAction

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"key": self.key, "action": self.action.value}


@dataclass(frozen=True)
class SituationImpact:
    """A situation the delta touches, directly (``action``) or only through ``controls``.

    Severities and probabilities are before mitigation (initial), before and after the delta;
    ``None`` where the situation does not exist. ``mitigated_*`` is "residual risk acceptable",
    ``None`` where the situation does not exist (new, or removed).
    """

    key: str
    action: DeltaAction | None
    controls: tuple[str, ...]
    severity_before: int | None
    severity_after: int | None
    probability_before: int | None
    probability_after: int | None
    significant_harm: bool
    mitigated_before: bool | None
    mitigated_after: bool | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "action": None if self.action is None else self.action.value,
            "controls": list(self.controls),
            "severity_before": self.severity_before,
            "severity_after": self.severity_after,
            "probability_before": self.probability_before,
            "probability_after": self.probability_after,
            "significant_harm": self.significant_harm,
            "mitigated_before": self.mitigated_before,
            "mitigated_after": self.mitigated_after,
        }


@dataclass(frozen=True)
class ControlImpact:
    """A control the delta adds, modifies or removes, and whether adding it is redundant."""

    key: str
    action: DeltaAction
    kind: ControlKind
    situations: tuple[str, ...]
    redundant: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "action": self.action.value,
            "kind": self.kind.label,
            "situations": list(self.situations),
            "redundant": self.redundant,
        }


@dataclass(frozen=True)
class DeltaAnalysis:
    """The facts a delta gives the regulatory assessment; ``problems_after`` is file-wide."""

    hazards: tuple[HazardImpact, ...]
    situations: tuple[SituationImpact, ...]
    controls: tuple[ControlImpact, ...]
    problems_after: tuple[str, ...]

    @property
    def significant_harm(self) -> bool:
        """True when any situation touched can lead to significant harm."""
        return any(impact.significant_harm for impact in self.situations)

    @property
    def new_or_modified_controls(self) -> tuple[ControlImpact, ...]:
        """Controls added or modified (removed ones excluded)."""
        return tuple(c for c in self.controls if c.action is not DeltaAction.REMOVED)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "hazards": [impact.as_dict() for impact in self.hazards],
            "situations": [impact.as_dict() for impact in self.situations],
            "controls": [impact.as_dict() for impact in self.controls],
            "significant_harm": self.significant_harm,
            "problems_after": list(self.problems_after),
        }


@dataclass(frozen=True)
class RiskDelta:
    """A change request's changes to the risk file, at most one entry per key, in key order."""

    entries: tuple[DeltaEntry, ...] = ()

    def __post_init__(self) -> None:
        keys = [entry.key for entry in self.entries]
        if len(set(keys)) != len(keys):
            raise InvalidDeltaError("a delta has at most one entry per key")
        if keys != sorted(keys, key=sort_key):
            object.__setattr__(
                self, "entries", tuple(sorted(self.entries, key=lambda e: sort_key(e.key)))
            )

    def entry(self, key: str) -> DeltaEntry | None:
        """The entry for ``key``, if any."""
        return next((entry for entry in self.entries if entry.key == key), None)

    def overlay(self, file: RiskFile) -> RiskFile:
        """``file`` with every entry's ``after`` in place (no staleness or reference check)."""
        for entry in self.entries:
            file = file.with_item(entry.key, entry.after)
        return file

    def stale_keys(self, file: RiskFile) -> list[str]:
        """Keys whose ``before`` is no longer what ``file`` holds."""
        return [entry.key for entry in self.entries if file.get(entry.key) != entry.before]

    def apply_to(self, file: RiskFile) -> RiskFile:
        """The file after this delta, checked.

        Raises:
            StaleDeltaError: an entry's ``before`` is not the file's current content.
            InvalidDeltaError: the result has dangling references.
        """
        stale = self.stale_keys(file)
        if stale:
            raise StaleDeltaError(
                f"the risk file changed since the delta was proposed: {', '.join(stale)}"
            )
        result = self.overlay(file)
        errors = result.reference_errors()
        if errors:
            raise InvalidDeltaError("; ".join(errors))
        return result

    def then(self, later: RiskDelta) -> RiskDelta:
        """This delta followed by ``later``: earliest before and latest after per key."""
        return compose(self, later)

    def analyse(self, file: RiskFile, matrix: RiskMatrix) -> DeltaAnalysis:
        """The delta's impact on ``file`` (the current file: "before" means before this delta)."""
        after = self.overlay(file)
        hazards = tuple(
            HazardImpact(e.key, e.action) for e in self.entries if e.kind is ItemKind.HAZARD
        )
        control_entries = [e for e in self.entries if e.kind is ItemKind.CONTROL]
        touching: dict[str, list[str]] = {}
        for entry in control_entries:
            for key in _situations_of(entry):
                touching.setdefault(key, []).append(entry.key)
        direct = {e.key: e.action for e in self.entries if e.kind is ItemKind.SITUATION}
        situations = tuple(
            _situation_impact(key, direct.get(key), touching.get(key, []), file, after, matrix)
            for key in sorted(set(direct) | set(touching), key=sort_key)
        )
        controls = tuple(
            ControlImpact(
                key=entry.key,
                action=entry.action,
                kind=_control(entry).kind,
                situations=_situations_of(entry),
                redundant=_redundant(entry, touching, direct, file, matrix),
            )
            for entry in control_entries
        )
        return DeltaAnalysis(hazards, situations, controls, tuple(after.problems(matrix)))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"entries": [entry.as_dict() for entry in self.entries]}


def _control(entry: DeltaEntry) -> RiskControl:
    item = entry.after if entry.after is not None else entry.before
    assert isinstance(item, RiskControl)
    return item


def _situations_of(entry: DeltaEntry) -> tuple[str, ...]:
    keys: set[str] = set()
    for item in (entry.before, entry.after):
        if isinstance(item, RiskControl):
            keys.update(item.situations)
    return tuple(sorted(keys, key=sort_key))


def _situation_impact(
    key: str,
    action: DeltaAction | None,
    controls: list[str],
    before: RiskFile,
    after: RiskFile,
    matrix: RiskMatrix,
) -> SituationImpact:
    old, new = before.situation(key), after.situation(key)
    severities = [s.severity for s in (old, new) if s is not None]
    return SituationImpact(
        key=key,
        action=action,
        controls=tuple(sorted(controls, key=sort_key)),
        severity_before=None if old is None else old.severity,
        severity_after=None if new is None else new.severity,
        probability_before=None if old is None else old.probability,
        probability_after=None if new is None else new.probability,
        significant_harm=bool(severities) and matrix.significant(max(severities)),
        mitigated_before=None if old is None else before.mitigated(old, matrix),
        mitigated_after=None if new is None else after.mitigated(new, matrix),
    )


def _redundant(
    entry: DeltaEntry,
    touching: dict[str, list[str]],
    direct: dict[str, DeltaAction],
    before: RiskFile,
    matrix: RiskMatrix,
) -> bool:
    """Added, and every situation it controls was already mitigated with its controls untouched."""
    if entry.action is not DeltaAction.ADDED:
        return False
    for key in _situations_of(entry):
        situation = before.situation(key)
        if situation is None or direct.get(key) is DeltaAction.REMOVED:
            return False
        if touching.get(key, []) != [entry.key]:
            return False
        if not before.mitigated(situation, matrix):
            return False
    return True


def compose(*deltas: RiskDelta) -> RiskDelta:
    """Several deltas as one, in the order given: per key the earliest ``before`` and the latest
    ``after``; keys whose content ends where it started (added then removed) disappear."""
    first: dict[str, Item | None] = {}
    last: dict[str, Item | None] = {}
    for delta in deltas:
        for entry in delta.entries:
            first.setdefault(entry.key, entry.before)
            last[entry.key] = entry.after
    entries = [DeltaEntry.between(first[key], last[key]) for key in first]
    return RiskDelta(tuple(entry for entry in entries if entry is not None))
