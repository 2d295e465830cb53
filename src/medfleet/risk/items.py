"""Risk-file items (ISO 14971): hazards, hazardous situations, risk controls.

Pure (stdlib only). Items are immutable and valid once constructed; ``item_from_content``
builds one from JSON-like fields (as stored, or as a user typed them) and names the offending
field when it refuses. The file they make up: ``medfleet.risk.riskfile``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from medfleet.risk.errors import InvalidItemError
from medfleet.risk.matrix import check_level

MAX_TITLE = 300
MAX_TEXT = 10_000
MAX_SITUATIONS_PER_CONTROL = 100


class ItemKind(enum.StrEnum):
    """The three kinds of risk-file item."""

    HAZARD = "hazard"
    SITUATION = "situation"
    CONTROL = "control"


PREFIXES: dict[ItemKind, str] = {
    ItemKind.HAZARD: "H",
    ItemKind.SITUATION: "HS",
    ItemKind.CONTROL: "RC",
}
_KIND_BY_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}
_KEY = re.compile(r"(H|HS|RC)-([1-9][0-9]{0,8})")


class ControlKind(enum.IntEnum):
    """Risk control options in the priority order of ISO 14971:2019 §7.1."""

    INHERENT_SAFETY_BY_DESIGN = 1
    PROTECTIVE_MEASURE = 2
    INFORMATION_FOR_SAFETY = 3

    @property
    def label(self) -> str:
        """The lower-case name used in JSON and on the command line."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: object) -> ControlKind:
        """A kind from its name (``protective_measure``) or priority number.

        Raises:
            InvalidItemError: neither.
        """
        if isinstance(value, ControlKind):
            return value
        if isinstance(value, str):
            text = value.strip().lower().replace("-", "_").replace(" ", "_")
            for kind in cls:
                if text in (kind.label, str(kind.value)):
                    return kind
        elif isinstance(value, int) and not isinstance(value, bool) and value in (1, 2, 3):
            return cls(value)
        names = ", ".join(kind.label for kind in cls)
        raise InvalidItemError(f"risk control kind {value!r} is not one of: {names}")


def parse_key(text: str) -> tuple[ItemKind, int]:
    """The kind and number of a key such as ``HS-12`` (case-insensitive).

    Raises:
        InvalidItemError: not ``H-n``, ``HS-n`` or ``RC-n``.
    """
    match = _KEY.fullmatch(text.strip().upper())
    if match is None:
        raise InvalidItemError(f"{text!r} is not a risk-file key like H-1, HS-1 or RC-1")
    return _KIND_BY_PREFIX[match.group(1)], int(match.group(2))


def normal_key(text: str) -> str:
    """``text`` as a canonical key (``hs-3`` -> ``HS-3``).

    Raises:
        InvalidItemError: not a risk-file key.
    """
    kind, number = parse_key(text)
    return f"{PREFIXES[kind]}-{number}"


def sort_key(key: str) -> tuple[int, int]:
    """Order keys hazards first, then situations, then controls, each by number."""
    kind, number = parse_key(key)
    return list(ItemKind).index(kind), number


def _text(what: str, value: object, limit: int, *, required: bool) -> str:
    if not isinstance(value, str):
        raise InvalidItemError(f"{what} must be text")
    if required and not value.strip():
        raise InvalidItemError(f"{what} must not be empty")
    if len(value) > limit:
        raise InvalidItemError(f"{what} is longer than {limit} characters")
    return value


def _own_key(key: str, kind: ItemKind) -> None:
    if parse_key(key)[0] is not kind or normal_key(key) != key:
        raise InvalidItemError(f"{key!r} is not a {kind.value} key ({PREFIXES[kind]}-n)")


@dataclass(frozen=True)
class Hazard:
    """A potential source of harm (ISO 14971 §3.4)."""

    item_kind: ClassVar[ItemKind] = ItemKind.HAZARD
    key: str
    title: str
    description: str = ""

    def __post_init__(self) -> None:
        _own_key(self.key, ItemKind.HAZARD)
        _text("title", self.title, MAX_TITLE, required=True)
        _text("description", self.description, MAX_TEXT, required=False)

    def content(self) -> dict[str, Any]:
        """The stored JSON content (the key is stored beside it)."""
        return {"title": self.title, "description": self.description}


@dataclass(frozen=True)
class HazardousSituation:
    """Circumstances exposing someone to a hazard, and the harm it may lead to (§3.5, §5.4).

    ``severity``/``probability`` are estimated before risk control; the residual pair after it
    (both or neither: ``None`` until controls are in place) can never exceed them.
    """

    item_kind: ClassVar[ItemKind] = ItemKind.SITUATION
    key: str
    hazard: str
    sequence: str
    harm: str
    severity: int
    probability: int
    residual_severity: int | None = None
    residual_probability: int | None = None
    benefit_risk: str = ""

    def __post_init__(self) -> None:
        _own_key(self.key, ItemKind.SITUATION)
        if not isinstance(self.hazard, str):
            raise InvalidItemError("hazard must be a hazard key like H-1")
        _own_key(self.hazard, ItemKind.HAZARD)
        _text("sequence", self.sequence, MAX_TEXT, required=True)
        _text("harm", self.harm, MAX_TITLE, required=True)
        check_level("severity", self.severity)
        check_level("probability", self.probability)
        _text("benefit_risk", self.benefit_risk, MAX_TEXT, required=False)
        residual = (self.residual_severity, self.residual_probability)
        if residual.count(None) == 1:
            raise InvalidItemError(
                "residual_severity and residual_probability go together: give both or neither"
            )
        if self.residual_severity is not None and self.residual_probability is not None:
            check_level("residual_severity", self.residual_severity)
            check_level("residual_probability", self.residual_probability)
            if self.residual_severity > self.severity:
                raise InvalidItemError(
                    "residual_severity cannot exceed the severity before control"
                )
            if self.residual_probability > self.probability:
                raise InvalidItemError(
                    "residual_probability cannot exceed the probability before control"
                )

    @property
    def has_residual(self) -> bool:
        """True when a residual risk estimate is stated."""
        return self.residual_severity is not None

    def content(self) -> dict[str, Any]:
        """The stored JSON content."""
        return {
            "hazard": self.hazard,
            "sequence": self.sequence,
            "harm": self.harm,
            "severity": self.severity,
            "probability": self.probability,
            "residual_severity": self.residual_severity,
            "residual_probability": self.residual_probability,
            "benefit_risk": self.benefit_risk,
        }


@dataclass(frozen=True)
class RiskControl:
    """A measure reducing the risk of one or more situations (§7), and how it is verified."""

    item_kind: ClassVar[ItemKind] = ItemKind.CONTROL
    key: str
    title: str
    kind: ControlKind
    situations: tuple[str, ...]
    description: str = ""
    verification: str = ""

    def __post_init__(self) -> None:
        _own_key(self.key, ItemKind.CONTROL)
        _text("title", self.title, MAX_TITLE, required=True)
        if not isinstance(self.kind, ControlKind):
            raise InvalidItemError("kind must be a risk control kind")
        if not isinstance(self.situations, tuple) or not self.situations:
            raise InvalidItemError("a risk control needs at least one hazardous situation")
        if len(self.situations) > MAX_SITUATIONS_PER_CONTROL:
            raise InvalidItemError(
                f"a risk control may name at most {MAX_SITUATIONS_PER_CONTROL} situations"
            )
        for key in self.situations:
            if not isinstance(key, str):
                raise InvalidItemError("situations must be keys like HS-1")
            _own_key(key, ItemKind.SITUATION)
        if list(self.situations) != sorted(set(self.situations), key=sort_key):
            raise InvalidItemError("situations must be distinct and in key order")
        _text("description", self.description, MAX_TEXT, required=False)
        _text("verification", self.verification, MAX_TEXT, required=False)

    def content(self) -> dict[str, Any]:
        """The stored JSON content."""
        return {
            "title": self.title,
            "kind": self.kind.label,
            "description": self.description,
            "situations": list(self.situations),
            "verification": self.verification,
        }


Item = Hazard | HazardousSituation | RiskControl
FIELDS: dict[ItemKind, tuple[str, ...]] = {
    ItemKind.HAZARD: ("title", "description"),
    ItemKind.SITUATION: (
        "hazard",
        "sequence",
        "harm",
        "severity",
        "probability",
        "residual_severity",
        "residual_probability",
        "benefit_risk",
    ),
    ItemKind.CONTROL: ("title", "kind", "description", "situations", "verification"),
}
_REQUIRED: dict[ItemKind, frozenset[str]] = {
    ItemKind.HAZARD: frozenset({"title"}),
    ItemKind.SITUATION: frozenset({"hazard", "sequence", "harm", "severity", "probability"}),
    ItemKind.CONTROL: frozenset({"title", "kind", "situations"}),
}


def _key_field(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidItemError(f"{what} must be a key like H-1 or HS-1")
    return normal_key(value)


def item_from_content(kind: ItemKind, key: str, content: Mapping[str, Any]) -> Item:
    """Build and validate an item of ``kind`` from its fields; text is stripped, keys normalised.

    Raises:
        InvalidItemError: an unknown, missing or malformed field (named in the message).
    """
    unknown = sorted(set(content) - set(FIELDS[kind]))
    if unknown:
        raise InvalidItemError(
            f"a {kind.value} has no field(s) {', '.join(unknown)} "
            f"(fields: {', '.join(FIELDS[kind])})"
        )
    missing = sorted(name for name in _REQUIRED[kind] if content.get(name) is None)
    if missing:
        raise InvalidItemError(f"a {kind.value} needs {', '.join(missing)}")
    values: dict[str, Any] = {
        name: value.strip() if isinstance(value, str) else value
        for name, value in content.items()
        if value is not None or name.startswith("residual_")
    }
    if kind is ItemKind.HAZARD:
        return Hazard(key=key, **values)
    if kind is ItemKind.SITUATION:
        values["hazard"] = _key_field("hazard", values["hazard"])
        return HazardousSituation(key=key, **values)
    situations = values["situations"]
    if isinstance(situations, str) or not isinstance(situations, list | tuple):
        raise InvalidItemError("situations must be a list of keys like HS-1")
    keys = {_key_field("situations", value) for value in situations}
    values["situations"] = tuple(sorted(keys, key=sort_key))
    values["kind"] = ControlKind.parse(values["kind"])
    return RiskControl(key=key, **values)


def with_changes(item: Item, changes: Mapping[str, Any]) -> Item:
    """``item`` with some fields replaced (``None`` clears an optional field).

    Raises:
        InvalidItemError: an unknown field for the item's kind, or an invalid result.
    """
    return item_from_content(item.item_kind, item.key, {**item.content(), **changes})


def item_dict(item: Item) -> dict[str, Any]:
    """JSON-ready item: ``key``, ``kind`` and its content."""
    return {"key": item.key, "kind": item.item_kind.value, **item.content()}
