"""The ISO 14971 risk matrix: five severity and five probability levels and what is acceptable.

Pure (stdlib only). A ``RiskMatrix`` is always valid once constructed: exactly five uniquely
named levels on each axis, a 5x5 table of ``acceptable``/``unacceptable`` indexed
``[severity - 1][probability - 1]``, and ``significant_harm_from`` between 1 and 5.

The default table (``DEFAULT_MATRIX``) is unacceptable where severity x probability ≥ 12, so:
catastrophic x occasional and above, critical x occasional and above, serious x probable and
above are unacceptable; negligible and minor harms are acceptable at any probability, as is
anything improbable. ``significant_harm_from`` defaults to 3 (serious): the FDA 510(k)
software flowchart's "significant harm" is serious injury or worse.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medfleet.risk.errors import InvalidItemError, InvalidMatrixError

LEVELS = 5
MAX_LEVEL_NAME = 40
DEFAULT_SEVERITY_NAMES = ("negligible", "minor", "serious", "critical", "catastrophic")
DEFAULT_PROBABILITY_NAMES = ("improbable", "remote", "occasional", "probable", "frequent")
DEFAULT_UNACCEPTABLE_FROM_PRODUCT = 12
DEFAULT_SIGNIFICANT_HARM_FROM = 3


class Acceptability(enum.StrEnum):
    """Whether a risk (severity, probability) is acceptable per the manufacturer's policy."""

    ACCEPTABLE = "acceptable"
    UNACCEPTABLE = "unacceptable"


def check_level(what: str, value: object) -> int:
    """A level 1..5 (an ``int``, not a ``bool``).

    Raises:
        InvalidItemError: anything else.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LEVELS:
        raise InvalidItemError(f"{what} must be a whole number from 1 to {LEVELS}, not {value!r}")
    return value


def _names(axis: str, names: Sequence[str]) -> None:
    if isinstance(names, str) or len(names) != LEVELS:
        raise InvalidMatrixError(f"{axis} needs exactly {LEVELS} level names")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise InvalidMatrixError(f"{axis} level names must be non-empty text")
        if name != name.strip() or len(name) > MAX_LEVEL_NAME:
            raise InvalidMatrixError(
                f"{axis} level name {name!r} must have no surrounding spaces and at most "
                f"{MAX_LEVEL_NAME} characters"
            )
    if len({name.casefold() for name in names}) != LEVELS:
        raise InvalidMatrixError(f"{axis} level names must be unique: {', '.join(names)}")


@dataclass(frozen=True)
class RiskMatrix:
    """Severity and probability scales and the acceptability of each of their 25 pairs."""

    severity_names: tuple[str, ...]
    probability_names: tuple[str, ...]
    table: tuple[tuple[Acceptability, ...], ...]
    significant_harm_from: int = DEFAULT_SIGNIFICANT_HARM_FROM

    def __post_init__(self) -> None:
        _names("severity", self.severity_names)
        _names("probability", self.probability_names)
        if len(self.table) != LEVELS or any(len(row) != LEVELS for row in self.table):
            raise InvalidMatrixError(
                f"the acceptability table needs {LEVELS} rows (severity) of {LEVELS} "
                "values (probability)"
            )
        for row in self.table:
            for value in row:
                if not isinstance(value, Acceptability):
                    raise InvalidMatrixError(
                        f"acceptability values are 'acceptable' or 'unacceptable', not {value!r}"
                    )
        try:
            check_level("significant_harm_from", self.significant_harm_from)
        except InvalidItemError as exc:
            raise InvalidMatrixError(str(exc)) from None

    def acceptability(self, severity: int, probability: int) -> Acceptability:
        """The policy's verdict on a risk of ``severity`` and ``probability`` (both 1..5)."""
        return self.table[check_level("severity", severity) - 1][
            check_level("probability", probability) - 1
        ]

    def acceptable(self, severity: int, probability: int) -> bool:
        """True when the risk is acceptable."""
        return self.acceptability(severity, probability) is Acceptability.ACCEPTABLE

    def significant(self, severity: int) -> bool:
        """True when harm of ``severity`` counts as significant (serious) harm."""
        return check_level("severity", severity) >= self.significant_harm_from

    def severity_name(self, level: int) -> str:
        """The name of a severity level."""
        return self.severity_names[check_level("severity", level) - 1]

    def probability_name(self, level: int) -> str:
        """The name of a probability level."""
        return self.probability_names[check_level("probability", level) - 1]

    def severity_level(self, text: str) -> int:
        """A severity level from its number (``"4"``) or its name (``"critical"``).

        Raises:
            InvalidItemError: neither.
        """
        return _level("severity", self.severity_names, text)

    def probability_level(self, text: str) -> int:
        """A probability level from its number (``"2"``) or its name (``"remote"``).

        Raises:
            InvalidItemError: neither.
        """
        return _level("probability", self.probability_names, text)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``from_dict`` reads it back."""
        return {
            "severity_names": list(self.severity_names),
            "probability_names": list(self.probability_names),
            "table": [[value.value for value in row] for row in self.table],
            "significant_harm_from": self.significant_harm_from,
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> RiskMatrix:
        """A matrix from ``as_dict``'s form.

        Raises:
            InvalidMatrixError: a member is missing, unknown or malformed.
        """
        expected = {"severity_names", "probability_names", "table", "significant_harm_from"}
        unknown = sorted(set(document) - expected)
        if unknown:
            raise InvalidMatrixError(f"unknown matrix member(s): {', '.join(unknown)}")
        missing = sorted(expected - {"significant_harm_from"} - set(document))
        if missing:
            raise InvalidMatrixError(f"the matrix needs {', '.join(missing)}")
        table = document["table"]
        if not isinstance(table, list | tuple) or not all(
            isinstance(row, list | tuple) for row in table
        ):
            raise InvalidMatrixError("the acceptability table must be a list of 5 lists")
        try:
            rows = tuple(tuple(Acceptability(value) for value in row) for row in table)
        except ValueError as exc:
            raise InvalidMatrixError(
                f"acceptability values are 'acceptable' or 'unacceptable' ({exc})"
            ) from None
        severity, probability = document["severity_names"], document["probability_names"]
        for axis, names in (("severity", severity), ("probability", probability)):
            if not isinstance(names, list | tuple):
                raise InvalidMatrixError(f"{axis}_names must be a list of {LEVELS} names")
        return cls(
            severity_names=tuple(severity),
            probability_names=tuple(probability),
            table=rows,
            significant_harm_from=document.get(
                "significant_harm_from", DEFAULT_SIGNIFICANT_HARM_FROM
            ),
        )


def _level(axis: str, names: Sequence[str], text: str) -> int:
    cleaned = text.strip()
    if cleaned.isdigit():
        return check_level(axis, int(cleaned))
    for index, name in enumerate(names, start=1):
        if name.casefold() == cleaned.casefold():
            return index
    raise InvalidItemError(f"{axis} {text!r} is neither 1-{LEVELS} nor one of: {', '.join(names)}")


def default_matrix() -> RiskMatrix:
    """The matrix used until an organization configures its own (see the module docstring)."""
    return RiskMatrix(
        severity_names=DEFAULT_SEVERITY_NAMES,
        probability_names=DEFAULT_PROBABILITY_NAMES,
        table=tuple(
            tuple(
                Acceptability.UNACCEPTABLE
                if severity * probability >= DEFAULT_UNACCEPTABLE_FROM_PRODUCT
                else Acceptability.ACCEPTABLE
                for probability in range(1, LEVELS + 1)
            )
            for severity in range(1, LEVELS + 1)
        ),
        significant_harm_from=DEFAULT_SIGNIFICANT_HARM_FROM,
    )


DEFAULT_MATRIX = default_matrix()
