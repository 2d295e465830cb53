"""Predetermined change control plans (PCCP): may an AI-model change ship without a 510(k)?

An authorized PCCP (FD&C Act section 515C) lists the modifications a manufacturer may make and
the modification protocol's acceptance criteria. An ``ai_model`` change is implemented under
the PCCP only when it is inside the plan (the plan is for this device model and lists the
evaluated modification) AND the evaluation meets every acceptance criterion; a metric that was
not evaluated is not met, never assumed. Otherwise the decision gives every reason and the
change goes through the 510(k) flowchart.

Plans and evaluations are plain data with ``as_dict``/``from_dict`` for JSON storage and are
validated on construction (``InvalidPlanError``): at least one modification and one criterion,
unique modification ids and metrics, known comparators, finite thresholds and metric values.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, get_args

from medfleet.changes.assessment.errors import InvalidPlanError, PccpNotApplicableError
from medfleet.changes.assessment.facts import ChangeFacts
from medfleet.changes.assessment.questions import Answer, Source

Comparator = Literal[">=", "<=", ">", "<"]
_COMPARE: Mapping[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidPlanError(f"{what} must be a non-empty text, not {value!r}")
    return value


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidPlanError(f"{what} must be a finite number, not {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class PlannedModification:
    """One modification the plan authorizes."""

    id: str
    description: str

    def __post_init__(self) -> None:
        _text(self.id, "a planned modification's id")
        _text(self.description, f"modification {self.id}: description")


@dataclass(frozen=True, slots=True)
class AcceptanceCriterion:
    """``metric comparator threshold``, e.g. sensitivity >= 0.92."""

    metric: str
    comparator: Comparator
    threshold: float

    def __post_init__(self) -> None:
        _text(self.metric, "an acceptance criterion's metric")
        if self.comparator not in get_args(Comparator):
            raise InvalidPlanError(
                f"{self.metric}: comparator must be one of >=, <=, >, <; not {self.comparator!r}"
            )
        object.__setattr__(self, "threshold", _finite(self.threshold, f"{self.metric} threshold"))

    def text(self) -> str:
        """The criterion as people write it."""
        return f"{self.metric} {self.comparator} {self.threshold:g}"


@dataclass(frozen=True, slots=True)
class PccpPlan:
    """An authorized PCCP for one device model.

    Raises:
        InvalidPlanError: empty name, model, modifications or criteria; duplicate modification
            ids or metrics.
    """

    name: str
    device_model: str
    modifications: tuple[PlannedModification, ...]
    criteria: tuple[AcceptanceCriterion, ...]

    def __post_init__(self) -> None:
        _text(self.name, "a PCCP's name")
        _text(self.device_model, f"PCCP {self.name}: device model")
        object.__setattr__(self, "modifications", tuple(self.modifications))
        object.__setattr__(self, "criteria", tuple(self.criteria))
        if not self.modifications:
            raise InvalidPlanError(f"PCCP {self.name} lists no planned modification")
        if not self.criteria:
            raise InvalidPlanError(f"PCCP {self.name} has no acceptance criterion")
        for what, values in (
            ("modification ids", [m.id for m in self.modifications]),
            ("metrics", [c.metric for c in self.criteria]),
        ):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise InvalidPlanError(f"PCCP {self.name}: {what} listed twice: {twice}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "device_model": self.device_model,
            "modifications": [
                {"id": m.id, "description": m.description} for m in self.modifications
            ],
            "criteria": [
                {"metric": c.metric, "comparator": c.comparator, "threshold": c.threshold}
                for c in self.criteria
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PccpPlan:
        """A plan from its ``as_dict`` form.

        Raises:
            InvalidPlanError: a field is missing or invalid.
        """
        try:
            return cls(
                data["name"],
                data["device_model"],
                tuple(PlannedModification(**m) for m in data["modifications"]),
                tuple(AcceptanceCriterion(**c) for c in data["criteria"]),
            )
        except (KeyError, TypeError) as error:
            raise InvalidPlanError(f"malformed PCCP: {error}") from None


@dataclass(frozen=True, slots=True)
class ModelEvaluation:
    """The evaluation of a modified model: which planned modification, metrics, data set.

    Raises:
        InvalidPlanError: empty modification id or data set, or a metric that is not a finite
            number.
    """

    modification_id: str
    metrics: Mapping[str, float]
    dataset: str

    def __post_init__(self) -> None:
        _text(self.modification_id, "an evaluation's modification id")
        _text(self.dataset, "an evaluation's data set")
        if not isinstance(self.metrics, Mapping):
            raise InvalidPlanError("an evaluation's metrics must map names to numbers")
        metrics = {
            _text(name, "a metric name"): _finite(value, f"metric {name}")
            for name, value in self.metrics.items()
        }
        object.__setattr__(self, "metrics", MappingProxyType(metrics))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "modification_id": self.modification_id,
            "metrics": dict(sorted(self.metrics.items())),
            "dataset": self.dataset,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelEvaluation:
        """An evaluation from its ``as_dict`` form.

        Raises:
            InvalidPlanError: a field is missing or invalid.
        """
        try:
            return cls(data["modification_id"], data["metrics"], data["dataset"])
        except (KeyError, TypeError) as error:
            raise InvalidPlanError(f"malformed model evaluation: {error}") from None


class PccpOutcome(enum.StrEnum):
    """Where the PCCP check ends."""

    IMPLEMENT = "implement under the PCCP"
    FLOWCHART = "510(k) flowchart"


_FLOW = PccpOutcome.FLOWCHART.value


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One acceptance criterion against the evaluation; ``value`` is ``None`` when missing."""

    criterion: AcceptanceCriterion
    value: float | None
    met: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"criterion": self.criterion.text(), "value": self.value, "met": self.met}


@dataclass(frozen=True, slots=True)
class PccpDecision:
    """The PCCP check: outcome, reasons it fails (none when implemented), criteria, path."""

    outcome: PccpOutcome
    reasons: tuple[str, ...]
    criteria: tuple[CriterionResult, ...]
    path: tuple[Answer, ...]
    plan_name: str | None = None
    modification_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "outcome": self.outcome.value,
            "reasons": list(self.reasons),
            "criteria": [c.as_dict() for c in self.criteria],
            "path": [a.as_dict() for a in self.path],
            "plan": self.plan_name,
            "modification_id": self.modification_id,
        }


def _criteria(plan: PccpPlan, evaluation: ModelEvaluation) -> tuple[CriterionResult, ...]:
    results = []
    for criterion in plan.criteria:
        value = evaluation.metrics.get(criterion.metric)
        met = value is not None and _COMPARE[criterion.comparator](value, criterion.threshold)
        results.append(CriterionResult(criterion, value, met))
    return tuple(results)


def _plan_reasons(
    change: ChangeFacts, plan: PccpPlan | None, evaluation: ModelEvaluation | None
) -> list[str]:
    if plan is None:
        return [f"no PCCP is authorized for device model {change.device_model}"]
    reasons = []
    if plan.device_model != change.device_model:
        reasons.append(
            f"PCCP {plan.name} is for device model {plan.device_model}, not {change.device_model}"
        )
    if evaluation is None:
        reasons.append(
            "no model evaluation is recorded: the change cannot be matched to a planned "
            "modification nor checked against the acceptance criteria"
        )
    elif evaluation.modification_id not in {m.id for m in plan.modifications}:
        listed = ", ".join(m.id for m in plan.modifications)
        reasons.append(
            f"modification {evaluation.modification_id} is not among PCCP {plan.name}'s "
            f"planned modifications ({listed})"
        )
    return reasons


def assess_pccp(
    change: ChangeFacts, plan: PccpPlan | None, evaluation: ModelEvaluation | None
) -> PccpDecision:
    """Whether the AI-model ``change`` may be implemented under ``plan``, and why (not).

    Raises:
        PccpNotApplicableError: the change is not classified ``ai_model``.
    """
    if change.change_class != "ai_model":
        raise PccpNotApplicableError(
            f"{change.key} is classified {change.change_class}: a PCCP covers AI-model changes"
        )
    plan_reasons = _plan_reasons(change, plan, evaluation)
    if plan is None or evaluation is None:
        path = (Answer("pccp-in-plan", False, Source.PCCP, "; ".join(plan_reasons), (), _FLOW),)
        return PccpDecision(
            PccpOutcome.FLOWCHART,
            tuple(plan_reasons),
            (),
            path,
            None if plan is None else plan.name,
            None if evaluation is None else evaluation.modification_id,
        )
    results = _criteria(plan, evaluation)
    missed = [
        f"acceptance criterion {r.criterion.text()} is not met: "
        + ("the metric was not evaluated" if r.value is None else f"measured {r.value:g}")
        for r in results
        if not r.met
    ]
    inside = not plan_reasons
    evidence = (plan.name, evaluation.modification_id)
    steps = [
        Answer(
            "pccp-in-plan",
            inside,
            Source.PCCP,
            "; ".join(plan_reasons)
            or f"PCCP {plan.name} for device model {plan.device_model} lists modification "
            f"{evaluation.modification_id}",
            evidence,
            "pccp-criteria" if inside else _FLOW,
        )
    ]
    if inside:
        steps.append(
            Answer(
                "pccp-criteria",
                not missed,
                Source.PCCP,
                "; ".join(missed)
                or f"every acceptance criterion is met on {evaluation.dataset}: "
                + ", ".join(f"{r.criterion.text()} (measured {r.value})" for r in results),
                tuple(r.criterion.metric for r in results if not r.met),
                _FLOW if missed else PccpOutcome.IMPLEMENT.value,
            )
        )
    implement = inside and not missed
    return PccpDecision(
        PccpOutcome.IMPLEMENT if implement else PccpOutcome.FLOWCHART,
        () if implement else tuple(plan_reasons + missed),
        results,
        tuple(steps),
        plan.name,
        evaluation.modification_id,
    )
