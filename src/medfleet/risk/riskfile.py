"""The risk file: one version of every current item, and the questions asked of the whole.

Pure (stdlib only). Which controls act on a situation, its residual risk, whether it is
effectively mitigated, and what keeps the file from being complete (``problems``).

Residual risk is credited only through controls: a situation with no risk control in the file
has its initial risk as residual risk, whatever residual estimate it states.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from medfleet.risk.errors import InvalidItemError
from medfleet.risk.items import Hazard, HazardousSituation, Item, RiskControl, sort_key
from medfleet.risk.matrix import RiskMatrix


@dataclass(frozen=True)
class RiskFile:
    """One version of every current item, by key; plus the questions asked of the whole file."""

    items: Mapping[str, Item] = field(default_factory=dict)

    @classmethod
    def of(cls, items: Iterable[Item]) -> RiskFile:
        """A file of ``items`` (keys must be distinct)."""
        by_key: dict[str, Item] = {}
        for item in items:
            if item.key in by_key:
                raise InvalidItemError(f"{item.key} appears twice in the risk file")
            by_key[item.key] = item
        return cls(by_key)

    def sorted_items(self) -> list[Item]:
        """Every item: hazards, then situations, then controls, each by number."""
        return [self.items[key] for key in sorted(self.items, key=sort_key)]

    def get(self, key: str) -> Item | None:
        """The item with ``key``, if any."""
        return self.items.get(key)

    def situation(self, key: str) -> HazardousSituation | None:
        """The situation with ``key``, if any."""
        item = self.items.get(key)
        return item if isinstance(item, HazardousSituation) else None

    def controls_of(self, situation_key: str) -> list[RiskControl]:
        """The controls acting on a situation, by key."""
        return [
            item
            for item in self.sorted_items()
            if isinstance(item, RiskControl) and situation_key in item.situations
        ]

    def situations_of(self, hazard_key: str) -> list[HazardousSituation]:
        """The situations arising from a hazard, by key."""
        return [
            item
            for item in self.sorted_items()
            if isinstance(item, HazardousSituation) and item.hazard == hazard_key
        ]

    def residual(self, situation: HazardousSituation) -> tuple[int, int]:
        """(severity, probability) after control: the initial pair unless controls apply."""
        if situation.has_residual and self.controls_of(situation.key):
            assert situation.residual_severity is not None
            assert situation.residual_probability is not None
            return situation.residual_severity, situation.residual_probability
        return situation.severity, situation.probability

    def mitigated(self, situation: HazardousSituation, matrix: RiskMatrix) -> bool:
        """True when the situation's residual risk is acceptable (effectively mitigated)."""
        return matrix.acceptable(*self.residual(situation))

    def with_item(self, key: str, item: Item | None) -> RiskFile:
        """A copy with ``key`` replaced by ``item`` (or removed when ``None``)."""
        items = dict(self.items)
        if item is None:
            items.pop(key, None)
        else:
            items[key] = item
        return replace(self, items=items)

    def reference_errors(self) -> list[str]:
        """Dangling references: situations of missing hazards, controls of missing situations."""
        errors = []
        for item in self.sorted_items():
            if isinstance(item, HazardousSituation) and not isinstance(
                self.items.get(item.hazard), Hazard
            ):
                errors.append(f"{item.key} refers to hazard {item.hazard}, which does not exist")
            if isinstance(item, RiskControl):
                errors.extend(
                    f"{item.key} controls {key}, which does not exist"
                    for key in item.situations
                    if self.situation(key) is None
                )
        return errors

    def problems(self, matrix: RiskMatrix) -> list[str]:
        """What keeps the file from being complete; empty when it is.

        Besides dangling references: a situation with controls but no residual estimate
        (§7.3), a residual estimate with no control, an unacceptable residual risk with no
        benefit-risk analysis (§7.4), a control with no recorded verification (§7.2).
        """
        problems = self.reference_errors()
        for item in self.sorted_items():
            if isinstance(item, HazardousSituation):
                controlled = bool(self.controls_of(item.key))
                if controlled and not item.has_residual:
                    problems.append(f"{item.key} has risk controls but no residual risk estimate")
                if item.has_residual and not controlled:
                    problems.append(
                        f"{item.key} states a residual risk but no risk control acts on it"
                    )
                severity, probability = self.residual(item)
                if not matrix.acceptable(severity, probability) and not item.benefit_risk:
                    problems.append(
                        f"{item.key}: residual risk ({matrix.severity_name(severity)} x "
                        f"{matrix.probability_name(probability)}) is unacceptable and there is "
                        "no benefit-risk analysis (ISO 14971 §7.4)"
                    )
            if isinstance(item, RiskControl) and not item.verification:
                problems.append(
                    f"{item.key} records no verification of implementation and effectiveness"
                )
        return problems
