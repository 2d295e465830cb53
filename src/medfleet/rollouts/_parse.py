"""Checked reading of JSON-like documents (policies, selections) with path-aware errors.

Internal to ``medfleet.rollouts``: each reader raises the error class it was given with the
path of the offending value (``phases[1].percent``), so callers can say exactly what is wrong.
Booleans are never accepted as numbers, and unknown fields are refused, not ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import NoReturn, TypeVar

ErrorFactory = Callable[[str, str], Exception]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}")
"""Model names, hardware revisions, tags, versions and device ids."""
MAX_LIST = 100_000
MAX_ID = 2**63 - 1

_MISSING = object()
E = TypeVar("E")


def join(path: str, key: str | int) -> str:
    """``path`` extended by a field name or a list index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class Reader:
    """The fields of one JSON object; ``finish`` refuses any field nobody asked for."""

    def __init__(self, data: object, path: str, error: ErrorFactory) -> None:
        self.path = path
        self.error = error
        if not isinstance(data, Mapping):
            self.fail(f"must be an object, got {type(data).__name__}")
        for key in data:
            if not isinstance(key, str):
                self.fail(f"field names must be strings, got {key!r}")
        self._data: dict[str, object] = dict(data)
        self._seen: set[str] = set()

    def fail(self, message: str, key: str | None = None) -> NoReturn:
        """Raise the reader's error for this object or one of its fields."""
        raise self.error(message, self.path if key is None else join(self.path, key))

    def has(self, key: str) -> bool:
        """Whether ``key`` is present and not null."""
        return self._data.get(key) is not None

    def get(self, key: str, default: object = _MISSING) -> object:
        """The raw value of ``key`` (``default`` when absent or null).

        Raises:
            the reader's error: the field is required (no default) and missing.
        """
        self._seen.add(key)
        value = self._data.get(key)
        if value is None:
            if default is _MISSING:
                self.fail("is required", key)
            return default
        return value

    def finish(self) -> None:
        """Refuse fields that were never read.

        Raises:
            the reader's error: naming every unknown field.
        """
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen))
            self.fail(f"unknown field(s) {', '.join(map(repr, unknown))} (known: {known})")


def integer(value: object, path: str, error: ErrorFactory, low: int, high: int = MAX_ID) -> int:
    """``value`` as an int in ``[low, high]``; floats with no fraction are accepted.

    Raises:
        ``error``: not an integer or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"must be an integer, got {value!r}", path)
    if isinstance(value, float):
        if not value.is_integer():
            raise error(f"must be an integer, got {value!r}", path)
        value = int(value)
    if not low <= value <= high:
        raise error(f"must be between {low} and {high}, got {value}", path)
    return value


def number(
    value: object,
    path: str,
    error: ErrorFactory,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    decimals: int | None = None,
) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` with ``low_open``).

    ``decimals`` limits the digits after the point (2 for percentages: ``12.34``).

    Raises:
        ``error``: not a finite number, out of range, or too many decimals.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error(f"must be a number, got {value!r}", path)
    result = float(value)
    if not math.isfinite(result):
        raise error(f"must be a finite number, got {value!r}", path)
    below = result <= low if low_open else result < low
    if below or result > high:
        opening = "above" if low_open else "at least"
        raise error(f"must be {opening} {low:g} and at most {high:g}, got {value!r}", path)
    if decimals is not None:
        scaled = result * 10**decimals
        if abs(scaled - round(scaled)) > 1e-6:
            raise error(f"must have at most {decimals} decimals, got {value!r}", path)
        result = round(scaled) / 10**decimals
    return result


def name(value: object, path: str, error: ErrorFactory, what: str = "name") -> str:
    """A stripped name of 1-64 letters, digits, '.', '_', ':', '+' or '-'.

    Raises:
        ``error``: not a string or not such a name.
    """
    if not isinstance(value, str):
        raise error(f"{what} must be a string, got {value!r}", path)
    text = value.strip()
    if not NAME.fullmatch(text):
        raise error(
            f"{what} {value!r} must be 1-64 letters, digits, '.', '_', ':', '+' or '-'", path
        )
    return text


def items(value: object, path: str, error: ErrorFactory) -> list[object]:
    """``value`` as a list of at most ``MAX_LIST`` items.

    Raises:
        ``error``: not a list, or too long.
    """
    if not isinstance(value, list | tuple):
        raise error(f"must be a list, got {type(value).__name__}", path)
    if len(value) > MAX_LIST:
        raise error(f"must have at most {MAX_LIST} items, got {len(value)}", path)
    return list(value)


def id_set(value: object, path: str, error: ErrorFactory) -> frozenset[int]:
    """A list of positive ids as a set.

    Raises:
        ``error``: not a list of integers from 1 up.
    """
    listed = items(value, path, error)
    return frozenset(integer(item, join(path, i), error, 1) for i, item in enumerate(listed))


def name_set(value: object, path: str, error: ErrorFactory, what: str) -> frozenset[str]:
    """A list of names (see ``name``) as a set.

    Raises:
        ``error``: not a list of valid names.
    """
    listed = items(value, path, error)
    return frozenset(name(item, join(path, i), error, what) for i, item in enumerate(listed))


def choice(
    value: object, path: str, error: ErrorFactory, kind: Callable[[str], E], known: list[str]
) -> E:
    """``value`` as one of the string values ``known`` (converted with ``kind``).

    Raises:
        ``error``: not one of them.
    """
    if not isinstance(value, str) or value not in known:
        raise error(f"must be one of {', '.join(known)}, got {value!r}", path)
    return kind(value)
