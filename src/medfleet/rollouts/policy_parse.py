"""The validated constructor of campaign policies: ``parse_policy``.

Pure. Reads a JSON object into a ``medfleet.rollouts.policy.Policy``, refusing anything that
does not fit with an ``InvalidPolicyError`` naming the field's path (``phases[2].percent``) and
why; unknown fields are refused, not ignored. ``Policy.as_dict`` round-trips through it.
"""

from __future__ import annotations

from collections.abc import Mapping

from medfleet.rollouts import _parse as p
from medfleet.rollouts.errors import InvalidPolicyError
from medfleet.rollouts.model import Urgency
from medfleet.rollouts.policy import (
    BASIS_POINTS,
    MAX_ABORT_CRITERIA,
    MAX_PHASES,
    AbortCriterion,
    ExponentialRate,
    FailureType,
    GroupSelector,
    Phase,
    Policy,
    basis_points,
)

_E = InvalidPolicyError


def _percent(reader: p.Reader, key: str, default: float | None = None) -> float:
    value = reader.get(key) if default is None else reader.get(key, default)
    return p.number(value, p.join(reader.path, key), _E, 0, 100, decimals=2)


def _thresholds(reader: p.Reader) -> tuple[float, float]:
    return _percent(reader, "success_threshold", 100.0), _percent(reader, "error_threshold", 0.0)


def _group(value: object, path: str) -> GroupSelector:
    reader = p.Reader(value, path, _E)
    none: list[object] = []
    selector = GroupSelector(
        site_ids=p.id_set(reader.get("site_ids", none), p.join(path, "site_ids"), _E),
        hospital_ids=p.id_set(reader.get("hospital_ids", none), p.join(path, "hospital_ids"), _E),
        tags=p.name_set(reader.get("tags", none), p.join(path, "tags"), _E, "tag"),
        device_ids=p.name_set(
            reader.get("device_ids", none), p.join(path, "device_ids"), _E, "device id"
        ),
    )
    reader.finish()
    return selector


def _phase_name(reader: p.Reader, index: int) -> str:
    value = reader.get("name", f"phase {index + 1}")
    text = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= 64 or not text.isprintable():
        reader.fail("must be 1-64 printable characters", "name")
    return text


def _phases(value: object) -> tuple[Phase, ...]:
    listed = p.items(value, "phases", _E)
    if not 1 <= len(listed) <= MAX_PHASES:
        raise _E(f"must list 1 to {MAX_PHASES} phases, got {len(listed)}", "phases")
    phases: list[Phase] = []
    kinds: set[str] = set()
    cumulative: list[int] = []
    for index, item in enumerate(listed):
        path = p.join("phases", index)
        reader = p.Reader(item, path, _E)
        name = _phase_name(reader, index)
        success, error = _thresholds(reader)
        given = [k for k in ("percent", "cumulative_percent", "group") if reader.has(k)]
        if len(given) != 1:
            reader.fail("needs exactly one of 'percent', 'cumulative_percent' or 'group'")
        kinds.add(given[0])
        if len(kinds) > 1:
            reader.fail(
                f"uses {given[0]!r} but phase 1 uses {_other_kind(kinds, given[0])!r}; "
                "all phases must be of one kind"
            )
        percent: float | None = None
        group: GroupSelector | None = None
        if given[0] == "group":
            group = _group(reader.get("group"), p.join(path, "group"))
        else:
            share = p.number(
                reader.get(given[0]), p.join(path, given[0]), _E, 0, 100, low_open=True, decimals=2
            )
            points = basis_points(share)
            previous = cumulative[-1] if cumulative else 0
            if given[0] == "cumulative_percent":
                if points <= previous:
                    reader.fail(
                        f"must be above the previous phase's {previous / 100:g}",
                        "cumulative_percent",
                    )
                points -= previous
            cumulative.append(previous + points)
            percent = points / 100
        reader.finish()
        if any(earlier.name == name for earlier in phases):
            reader.fail(f"phase name {name!r} is used twice", "name")
        phases.append(Phase(name, success, error, percent, group))
    if cumulative and cumulative[-1] != BASIS_POINTS:
        raise _E(
            f"the phases' percentages must add up to 100, got {cumulative[-1] / 100:g}", "phases"
        )
    for index, phase in enumerate(phases[:-1]):
        if phase.group is not None and phase.group.is_rest:
            raise _E(
                "an empty group takes every device left, so only the last phase may have one",
                f"phases[{index}].group",
            )
    return tuple(phases)


def _other_kind(kinds: set[str], current: str) -> str:
    return next(kind for kind in sorted(kinds) if kind != current)


def _rate(value: object) -> ExponentialRate:
    reader = p.Reader(value, "rate", _E)
    base = p.integer(reader.get("base_per_minute"), "rate.base_per_minute", _E, 1, 1_000_000)
    factor = p.number(
        reader.get("increment_factor", 1.0), "rate.increment_factor", _E, 1, 5, decimals=1
    )
    thresholds = {}
    for key in ("notify_threshold", "success_threshold"):
        if reader.has(key):
            thresholds[key] = p.integer(reader.get(key), f"rate.{key}", _E, 1)
        else:
            reader.get(key, None)
    if len(thresholds) > 1:
        reader.fail("give notify_threshold or success_threshold, not both")
    if factor > 1 and not thresholds:
        reader.fail("an increment_factor above 1 needs notify_threshold or success_threshold")
    maximum: int | None = None
    if reader.has("maximum_per_minute"):
        maximum = p.integer(
            reader.get("maximum_per_minute"), "rate.maximum_per_minute", _E, base, 1_000_000
        )
    else:
        reader.get("maximum_per_minute", None)
    reader.finish()
    return ExponentialRate(
        base,
        factor,
        thresholds.get("notify_threshold"),
        thresholds.get("success_threshold"),
        maximum,
    )


def _abort(value: object) -> tuple[AbortCriterion, ...]:
    listed = p.items(value, "abort_criteria", _E)
    if len(listed) > MAX_ABORT_CRITERIA:
        raise _E(f"must have at most {MAX_ABORT_CRITERIA} criteria", "abort_criteria")
    criteria: list[AbortCriterion] = []
    for index, item in enumerate(listed):
        path = p.join("abort_criteria", index)
        reader = p.Reader(item, path, _E)
        kind = p.choice(
            reader.get("failure_type"),
            p.join(path, "failure_type"),
            _E,
            FailureType,
            [f.value for f in FailureType],
        )
        threshold = p.number(
            reader.get("threshold_percent"),
            p.join(path, "threshold_percent"),
            _E,
            0,
            100,
            low_open=True,
            decimals=2,
        )
        minimum = p.integer(reader.get("min_finished"), p.join(path, "min_finished"), _E, 1)
        reader.finish()
        if any(c.failure_type is kind for c in criteria):
            reader.fail(f"failure_type {kind.value!r} has a criterion already", "failure_type")
        criteria.append(AbortCriterion(kind, threshold, minimum))
    return tuple(criteria)


def parse_policy(data: Mapping[str, object]) -> Policy:
    """A checked ``Policy`` from a JSON object.

    Fields: ``phases`` (required: 1-50 objects with an optional ``name``,
    ``success_threshold`` (default 100) and ``error_threshold`` (default 0) in percent, and
    exactly one of ``percent`` (shares adding up to 100), ``cumulative_percent`` (rising to
    100) or ``group`` (``site_ids``, ``hospital_ids``, ``tags``, ``device_ids``; an empty group
    only last); all phases of one kind), ``canary`` (``success_threshold``,
    ``error_threshold`` of the test devices' phase), ``rate`` (``base_per_minute``,
    ``increment_factor`` 1-5, ``notify_threshold`` or ``success_threshold``,
    ``maximum_per_minute``), ``abort_criteria`` (``failure_type``, ``threshold_percent``,
    ``min_finished``; one per failure type) and ``urgency`` (``routine`` or ``critical``).
    Percentages have at most two decimals.

    Raises:
        InvalidPolicyError: naming the first offending field (``field``) and why.
    """
    reader = p.Reader(data, "", _E)
    phases = _phases(reader.get("phases"))
    canary_reader = p.Reader(reader.get("canary", {}), "canary", _E)
    canary = Phase("canary", *_thresholds(canary_reader))
    canary_reader.finish()
    rate = _rate(reader.get("rate")) if reader.has("rate") else None
    reader.get("rate", None)
    criteria = _abort(reader.get("abort_criteria", []))
    urgency = p.choice(
        reader.get("urgency", Urgency.ROUTINE.value),
        "urgency",
        _E,
        Urgency,
        [u.value for u in Urgency],
    )
    reader.finish()
    return Policy(phases, canary, rate, criteria, urgency)
