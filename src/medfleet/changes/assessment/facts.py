"""What medfleet already knows about a change, as plain frozen dataclasses, and their sum.

The facts come from the change request's classification, its ISO 14971 risk-file delta and its
requirement changes. They are validated on construction (``InvalidFactsError``), so a decision
function never sees an impossible fact: a situation that is added has no "before", one that is
removed has no "after", severities and probabilities are levels 1..5 (severity always *before*
mitigation: the initial risk), and keys are unique within a change.

``combine`` sums changes documented since the last cleared version, oldest first, into the one
change the cleared device would have to take; it is associative, so a running sum and a sum of
sums agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast, get_args

from medfleet.changes.assessment.errors import InvalidFactsError

ItemAction = Literal["added", "modified", "removed"]
RequirementAction = Literal["added", "modified", "retired"]
RequirementKind = Literal[
    "functional", "performance", "safety", "security", "usability", "regulatory"
]
ChangeClass = Literal["minor", "major", "cybersecurity", "ai_model"]
SafetyClass = Literal["A", "B", "C"]

LEVELS = range(1, 6)


def _choice(value: object, allowed: Any, what: str) -> Any:
    options: tuple[str, ...] = get_args(allowed)
    if value not in options:
        raise InvalidFactsError(f"{what} must be one of {', '.join(options)}, not {value!r}")
    return value


def _level(value: object, what: str) -> None:
    if value is not None and (isinstance(value, bool) or value not in LEVELS):
        raise InvalidFactsError(f"{what} must be a level 1..5 or absent, not {value!r}")


def _key(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidFactsError(f"{what} needs a non-empty key, not {value!r}")


@dataclass(frozen=True, slots=True)
class SituationFact:
    """A hazardous situation the change adds, modifies or removes.

    Severities and probabilities are levels 1..5; severity is *before* mitigation. ``mitigated_*``
    says whether the residual risk was (is) acceptable; ``None`` where the situation did not
    exist. ``significant_harm`` comes from the manufacturer's matrix.

    Raises:
        InvalidFactsError: unknown action, level out of range, or before/after values that do
            not match the action.
    """

    key: str
    action: ItemAction
    severity_before: int | None
    severity_after: int | None
    probability_before: int | None
    probability_after: int | None
    significant_harm: bool
    mitigated_before: bool | None
    mitigated_after: bool | None

    def __post_init__(self) -> None:
        _key(self.key, "a hazardous situation")
        _choice(self.action, ItemAction, f"{self.key}: action")
        for name in ("severity_before", "severity_after", "probability_before"):
            _level(getattr(self, name), f"{self.key}: {name}")
        _level(self.probability_after, f"{self.key}: probability_after")
        before = (self.severity_before, self.probability_before, self.mitigated_before)
        after = (self.severity_after, self.probability_after, self.mitigated_after)
        if self.action == "added" and any(v is not None for v in before):
            raise InvalidFactsError(f"{self.key}: an added situation has no 'before' values")
        if self.action == "removed" and any(v is not None for v in after):
            raise InvalidFactsError(f"{self.key}: a removed situation has no 'after' values")
        needed = {"added": after, "removed": before, "modified": before + after}[self.action]
        if any(v is None for v in needed):
            raise InvalidFactsError(
                f"{self.key}: a {self.action} situation needs its severity, probability and "
                "mitigation for every state in which it exists"
            )

    @property
    def risk_rose(self) -> bool:
        """True when severity (before mitigation) or probability is higher after than before."""
        if self.action != "modified":
            return False
        return cast(int, self.severity_after) > cast(int, self.severity_before) or cast(
            int, self.probability_after
        ) > cast(int, self.probability_before)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, field by field."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class ControlFact:
    """A risk control measure the change adds, modifies or removes.

    ``significant_harm``: it controls a situation that could result in significant harm.
    ``redundant``: added to situations that were already effectively mitigated, their other
    controls unchanged (meaningful for added controls).

    Raises:
        InvalidFactsError: unknown action or empty key.
    """

    key: str
    action: ItemAction
    situations: tuple[str, ...]
    significant_harm: bool
    redundant: bool

    def __post_init__(self) -> None:
        _key(self.key, "a risk control")
        _choice(self.action, ItemAction, f"{self.key}: action")
        object.__setattr__(self, "situations", tuple(sorted(set(self.situations))))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, field by field."""
        values = {name: getattr(self, name) for name in self.__slots__}
        values["situations"] = list(self.situations)
        return values


@dataclass(frozen=True, slots=True)
class RequirementFact:
    """A requirement the change adds, modifies or retires, with its kind.

    Raises:
        InvalidFactsError: unknown action or kind, or empty key.
    """

    key: str
    action: RequirementAction
    kind: RequirementKind

    def __post_init__(self) -> None:
        _key(self.key, "a requirement")
        _choice(self.action, RequirementAction, f"{self.key}: action")
        _choice(self.kind, RequirementKind, f"{self.key}: kind")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, field by field."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class ChangeFacts:
    """Everything the assessment knows about one change (or a sum of changes) from records.

    Raises:
        InvalidFactsError: unknown class or safety class, empty key, or a situation, control or
            requirement key listed twice.
    """

    key: str
    title: str
    change_class: ChangeClass
    safety_class: SafetyClass
    device_model: str
    situations: tuple[SituationFact, ...] = ()
    controls: tuple[ControlFact, ...] = ()
    requirements: tuple[RequirementFact, ...] = field(default=())

    def __post_init__(self) -> None:
        _key(self.key, "a change")
        _choice(self.change_class, ChangeClass, f"{self.key}: change_class")
        _choice(self.safety_class, SafetyClass, f"{self.key}: safety_class")
        _key(self.device_model, f"{self.key}: the device model")
        for name in ("situations", "controls", "requirements"):
            items = tuple(getattr(self, name))
            object.__setattr__(self, name, items)
            keys = [item.key for item in items]
            twice = sorted({k for k in keys if keys.count(k) > 1})
            if twice:
                raise InvalidFactsError(f"{self.key}: {name} listed more than once: {twice}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form; items in the order given."""
        return {
            "key": self.key,
            "title": self.title,
            "change_class": self.change_class,
            "safety_class": self.safety_class,
            "device_model": self.device_model,
            "situations": [s.as_dict() for s in self.situations],
            "controls": [c.as_dict() for c in self.controls],
            "requirements": [r.as_dict() for r in self.requirements],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChangeFacts:
        """The facts from their ``as_dict`` form (for stored snapshots and tests).

        Raises:
            InvalidFactsError: a field is missing or invalid.
        """
        try:
            return cls(
                key=data["key"],
                title=data["title"],
                change_class=data["change_class"],
                safety_class=data["safety_class"],
                device_model=data["device_model"],
                situations=tuple(SituationFact(**s) for s in data.get("situations", ())),
                controls=tuple(
                    ControlFact(**{**c, "situations": tuple(c["situations"])})
                    for c in data.get("controls", ())
                ),
                requirements=tuple(RequirementFact(**r) for r in data.get("requirements", ())),
            )
        except (KeyError, TypeError) as error:
            raise InvalidFactsError(f"malformed change facts: {error}") from None


# --- combining changes -------------------------------------------------------------------

_Item = TypeVar("_Item", SituationFact, ControlFact, RequirementFact)
_GONE = ("removed", "retired")


def _history(
    changes: Sequence[ChangeFacts], pick: Callable[[ChangeFacts], Iterable[_Item]]
) -> dict[str, list[tuple[str, _Item]]]:
    """Every item's entries in change order, each with the change that made it; consistent.

    Raises:
        InvalidFactsError: an item is added while it exists, or changed while it does not.
    """
    entries: dict[str, list[tuple[str, _Item]]] = {}
    for change in changes:
        for item in pick(change):
            seen = entries.setdefault(item.key, [])
            if seen:
                previous_change, previous = seen[-1]
                exists = previous.action not in _GONE
                if exists == (item.action == "added"):
                    raise InvalidFactsError(
                        f"{item.key}: {item.action} in {change.key} after it was "
                        f"{previous.action} in {previous_change}"
                    )
            seen.append((change.key, item))
    return entries


def _net_action(first: str, last: str, gone: str) -> str | None:
    existed = first != "added"
    exists = last not in _GONE
    if existed and exists:
        return "modified"
    if existed:
        return gone
    return "added" if exists else None


def _sum_situation(entries: list[SituationFact]) -> SituationFact | None:
    first, last = entries[0], entries[-1]
    action = _net_action(first.action, last.action, "removed")
    if action is None:
        return None
    return SituationFact(
        key=first.key,
        action=cast(ItemAction, action),
        severity_before=first.severity_before,
        severity_after=last.severity_after,
        probability_before=first.probability_before,
        probability_after=last.probability_after,
        significant_harm=last.significant_harm,
        mitigated_before=first.mitigated_before,
        mitigated_after=last.mitigated_after,
    )


def _sum_control(entries: list[ControlFact]) -> ControlFact | None:
    last = entries[-1]
    action = _net_action(entries[0].action, last.action, "removed")
    if action is None:
        return None
    return ControlFact(
        last.key,
        cast(ItemAction, action),
        last.situations,
        last.significant_harm,
        last.redundant,
    )


def _sum_requirement(entries: list[RequirementFact]) -> RequirementFact | None:
    action = _net_action(entries[0].action, entries[-1].action, "retired")
    if action is None:
        return None
    return RequirementFact(entries[0].key, cast(RequirementAction, action), entries[-1].kind)


def _summed(
    changes: Sequence[ChangeFacts],
    pick: Callable[[ChangeFacts], Iterable[_Item]],
    add_up: Callable[[list[_Item]], _Item | None],
) -> tuple[_Item, ...]:
    history = _history(changes, pick)
    summed = (add_up([item for _, item in history[key]]) for key in sorted(history))
    return tuple(item for item in summed if item is not None)


def combine(facts: Sequence[ChangeFacts]) -> ChangeFacts:
    """The cumulative change of ``facts`` (oldest first) against the state before the first.

    Per situation, control and requirement key: the earliest "before" and the latest "after";
    an item added and later removed (retired) disappears; added then modified stays "added";
    removed then added again is "modified". Everything else (``significant_harm``, a
    control's ``redundant`` flag and situations, a requirement's kind) is the item's latest
    rating (for a removed item: as it stood when removed). The key and title join the
    changes' (``CR-3+CR-5``), the class is the latest, the safety class the highest. Items
    come sorted by key, so the result does not depend on how the sequence is split:
    ``combine(a + b) == combine([combine(a), combine(b)])``. One exception, inherent to
    dropping added-then-removed items: when a removed item is added again (risk-file keys are
    never reused, requirement ids may be), actions and before/after values still agree but a
    split can hide the ratings of a later added-and-removed-again incarnation.

    Raises:
        InvalidFactsError: no changes, changes for different device models, or an item history
            that is impossible (modified after it was removed, added while it existed).
    """
    if not facts:
        raise InvalidFactsError("combine needs at least one change")
    models = sorted({change.device_model for change in facts})
    if len(models) > 1:
        raise InvalidFactsError(f"cannot combine changes of different device models: {models}")
    return ChangeFacts(
        key="+".join(change.key for change in facts),
        title=" + ".join(change.title for change in facts),
        change_class=facts[-1].change_class,
        safety_class=max(change.safety_class for change in facts),
        device_model=models[0],
        situations=_summed(facts, lambda c: c.situations, _sum_situation),
        controls=_summed(facts, lambda c: c.controls, _sum_control),
        requirements=_summed(facts, lambda c: c.requirements, _sum_requirement),
    )
