"""The pure risk model: matrix, items, the risk file, delta analysis, apply and compose."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.risk.errors import (
    InvalidDeltaError,
    InvalidItemError,
    InvalidMatrixError,
    StaleDeltaError,
)
from medfleet.risk.items import item_from_content, parse_key, with_changes
from medfleet.risk.matrix import DEFAULT_MATRIX, Acceptability, RiskMatrix
from medfleet.risk.model import (
    ControlKind,
    DeltaAction,
    DeltaEntry,
    Hazard,
    HazardousSituation,
    ItemKind,
    RiskControl,
    RiskDelta,
    RiskFile,
    compose,
)

A, U = Acceptability.ACCEPTABLE, Acceptability.UNACCEPTABLE


def hs(
    key: str = "HS-1", severity: int = 4, probability: int = 3, **more: Any
) -> HazardousSituation:
    return HazardousSituation(key, "H-1", "sequence", "harm", severity, probability, **more)


def rc(key: str = "RC-1", *situations: str, title: str = "Interlock") -> RiskControl:
    return RiskControl(
        key, title, ControlKind.PROTECTIVE_MEASURE, situations or ("HS-1",), verification="T-1"
    )


def diff(before: RiskFile, after: RiskFile) -> RiskDelta:
    """The delta turning ``before`` into ``after``."""
    keys = set(before.items) | set(after.items)
    entries = (DeltaEntry.between(before.get(k), after.get(k)) for k in keys)
    return RiskDelta(tuple(e for e in entries if e is not None))


# A released file: HS-1 (critical x occasional: unacceptable) reduced by RC-1 to remote.
H1 = Hazard("H-1", "Over-infusion")
MITIGATED = hs(residual_severity=4, residual_probability=2)
FILE = RiskFile.of([H1, MITIGATED, rc()])


# --- matrix -------------------------------------------------------------------------------------


def test_default_matrix() -> None:
    m = DEFAULT_MATRIX
    assert m.severity_names[4] == "catastrophic"
    assert m.probability_names[0] == "improbable"
    assert not m.acceptable(5, 3)  # catastrophic x occasional
    assert not m.acceptable(4, 3)
    assert m.acceptable(5, 2)
    assert m.acceptable(2, 5)  # minor harm, frequent
    assert m.significant(3)
    assert not m.significant(2)
    assert m.severity_level("Critical") == 4
    assert m.probability_level(" 2 ") == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity_names": ["a", "b", "c", "d"]}, "exactly 5"),
        ({"severity_names": ["a", "B", "b", "c", "d"]}, "unique"),
        ({"probability_names": ["a", "", "c", "d", "e"]}, "non-empty"),
        ({"table": [["acceptable"] * 5] * 4}, "5 rows"),
        ({"table": [["acceptable"] * 5] * 4 + [["fine"] * 5]}, "acceptable"),
        ({"significant_harm_from": 0}, "1 to 5"),
        ({"significant_harm_from": True}, "1 to 5"),
        ({"colour": "red"}, "unknown"),
    ],
)
def test_matrix_validation(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidMatrixError, match=message):
        RiskMatrix.from_dict({**DEFAULT_MATRIX.as_dict(), **change})


@given(
    st.lists(st.lists(st.sampled_from(["acceptable", "unacceptable"]), min_size=5, max_size=5),
             min_size=5, max_size=5),
    st.integers(1, 5),
)  # fmt: skip
def test_matrix_round_trips(table: list[list[str]], significant: int) -> None:
    document = {**DEFAULT_MATRIX.as_dict(), "table": table, "significant_harm_from": significant}
    matrix = RiskMatrix.from_dict(document)
    assert matrix.as_dict() == document
    assert matrix.acceptable(5, 5) == (table[4][4] == "acceptable")


def test_level_by_name_or_number_refuses_others() -> None:
    with pytest.raises(InvalidItemError, match="neither"):
        DEFAULT_MATRIX.severity_level("deadly")
    with pytest.raises(InvalidItemError, match="1 to 5"):
        DEFAULT_MATRIX.probability_level("6")


# --- items --------------------------------------------------------------------------------------


def test_keys() -> None:
    assert parse_key("hs-12") == (ItemKind.SITUATION, 12)
    for bad in ("H-0", "X-1", "HS1", "RC--1", "H-1 "[:-1] + "x"):
        with pytest.raises(InvalidItemError):
            parse_key(bad)


def test_item_rules() -> None:
    with pytest.raises(InvalidItemError, match="both or neither"):
        hs(residual_severity=3)
    with pytest.raises(InvalidItemError, match="cannot exceed"):
        hs(residual_severity=5, residual_probability=1)
    control = item_from_content(
        ItemKind.CONTROL,
        "RC-2",
        {"title": " t ", "kind": "Inherent safety by design", "situations": ["hs-3", "HS-1"]},
    )
    assert isinstance(control, RiskControl)
    assert (control.title, control.kind, control.situations) == (
        "t",
        ControlKind.INHERENT_SAFETY_BY_DESIGN,
        ("HS-1", "HS-3"),
    )
    assert [k.value for k in ControlKind] == [1, 2, 3]  # ISO 14971 §7.1 priority order
    with pytest.raises(InvalidItemError, match="no field"):
        with_changes(H1, {"severity": 2})
    with pytest.raises(InvalidItemError, match="needs"):
        item_from_content(ItemKind.SITUATION, "HS-2", {"hazard": "H-1"})


def test_residual_is_credited_only_through_controls() -> None:
    assert FILE.residual(MITIGATED) == (4, 2)
    assert FILE.mitigated(MITIGATED, DEFAULT_MATRIX)
    alone = RiskFile.of([H1, MITIGATED])
    assert alone.residual(MITIGATED) == (4, 3)
    problems = alone.problems(DEFAULT_MATRIX)
    assert any("no risk control acts on it" in p for p in problems)
    assert any("no benefit-risk analysis" in p for p in problems)
    assert FILE.problems(DEFAULT_MATRIX) == []
    no_estimate = RiskFile.of([H1, hs(), RiskControl("RC-1", "x", ControlKind(3), ("HS-1",))])
    problems = no_estimate.problems(DEFAULT_MATRIX)
    assert any("no residual risk estimate" in p for p in problems)
    assert any("records no verification" in p for p in problems)


# --- analysis -----------------------------------------------------------------------------------


def test_severity_is_judged_before_mitigation() -> None:
    # the residual is minor, but the harm before control is critical: significant
    delta = diff(FILE, FILE.with_item("HS-1", with_changes(MITIGATED, {"probability": 4})))
    (impact,) = delta.analyse(FILE, DEFAULT_MATRIX).situations
    assert (impact.action, impact.severity_before, impact.severity_after) == (
        DeltaAction.MODIFIED,
        4,
        4,
    )
    assert impact.significant_harm
    assert (impact.mitigated_before, impact.mitigated_after) == (True, True)
    lower = RiskMatrix.from_dict({**DEFAULT_MATRIX.as_dict(), "significant_harm_from": 5})
    assert not delta.analyse(FILE, lower).significant_harm


def test_new_situation_and_control_removal() -> None:
    new = hs("HS-2", severity=2, probability=2)
    analysis = diff(FILE, FILE.with_item("HS-2", new).with_item("RC-1", None)).analyse(
        FILE, DEFAULT_MATRIX
    )
    first, second = analysis.situations
    assert (first.key, first.action, first.controls) == ("HS-1", None, ("RC-1",))
    assert (first.mitigated_before, first.mitigated_after) == (True, False)
    assert (second.key, second.action, second.severity_before, second.mitigated_before) == (
        "HS-2",
        DeltaAction.ADDED,
        None,
        None,
    )
    assert not second.significant_harm
    (removed,) = analysis.controls
    assert (removed.action, removed.redundant) == (DeltaAction.REMOVED, False)
    assert any("HS-1" in p for p in analysis.problems_after)


def test_redundant_control() -> None:
    extra = rc("RC-2", title="Second interlock")
    (added,) = diff(FILE, FILE.with_item("RC-2", extra)).analyse(FILE, DEFAULT_MATRIX).controls
    assert (added.key, added.action, added.redundant) == ("RC-2", DeltaAction.ADDED, True)
    # not redundant when another control of the situation changes in the same delta
    both = FILE.with_item("RC-2", extra).with_item("RC-1", rc(title="Renamed"))
    controls = diff(FILE, both).analyse(FILE, DEFAULT_MATRIX).controls
    assert [(c.key, c.redundant) for c in controls] == [("RC-1", False), ("RC-2", False)]
    # not redundant when the situation was not effectively mitigated before
    unmitigated = RiskFile.of([H1, hs()])
    fixed = unmitigated.with_item("RC-2", extra).with_item(
        "HS-1", hs(residual_severity=4, residual_probability=1)
    )
    analysis = diff(unmitigated, fixed).analyse(unmitigated, DEFAULT_MATRIX)
    assert not analysis.controls[0].redundant
    assert (analysis.situations[0].mitigated_before, analysis.situations[0].mitigated_after) == (
        False,
        True,
    )
    # nor when it also covers a new situation
    wider = FILE.with_item("HS-2", hs("HS-2", 1, 1)).with_item("RC-2", rc("RC-2", "HS-1", "HS-2"))
    analysis = diff(FILE, wider).analyse(FILE, DEFAULT_MATRIX)
    assert not analysis.controls[0].redundant
    assert analysis.as_dict()["controls"][0]["kind"] == "protective_measure"


# --- apply and compose --------------------------------------------------------------------------


def test_apply_is_strict() -> None:
    delta = diff(FILE, FILE.with_item("H-1", Hazard("H-1", "Renamed")))
    assert delta.apply_to(FILE).get("H-1") == Hazard("H-1", "Renamed")
    moved_on = FILE.with_item("H-1", Hazard("H-1", "Someone else's"))
    with pytest.raises(StaleDeltaError, match="H-1"):
        delta.apply_to(moved_on)
    dangling = RiskDelta((DeltaEntry(ItemKind.HAZARD, "H-1", DeltaAction.REMOVED, H1, None),))
    with pytest.raises(InvalidDeltaError, match="HS-1 refers to hazard H-1"):
        dangling.apply_to(FILE)


def test_entries_are_consistent() -> None:
    with pytest.raises(InvalidDeltaError, match="change something"):
        DeltaEntry(ItemKind.HAZARD, "H-1", DeltaAction.MODIFIED, H1, H1)
    with pytest.raises(InvalidDeltaError, match="does not fit"):
        DeltaEntry(ItemKind.HAZARD, "H-1", DeltaAction.ADDED, H1, H1)
    with pytest.raises(InvalidDeltaError, match="at most one"):
        RiskDelta((DeltaEntry.between(None, H1),) * 2)  # type: ignore[arg-type]


def test_compose_examples() -> None:
    h2 = Hazard("H-2", "New")
    added = diff(FILE, FILE.with_item("H-2", h2))
    removed = diff(FILE.with_item("H-2", h2), FILE)
    assert compose(added, removed).entries == ()
    renamed = FILE.with_item("H-1", Hazard("H-1", "One"))
    again = renamed.with_item("H-1", Hazard("H-1", "Two"))
    (entry,) = diff(FILE, renamed).then(diff(renamed, again)).entries
    assert (entry.action, entry.before, entry.after) == (
        DeltaAction.MODIFIED,
        H1,
        Hazard("H-1", "Two"),
    )
    assert diff(FILE, renamed).then(diff(renamed, FILE)).entries == ()
    with_h2 = FILE.with_item("H-2", h2)
    (grown,) = added.then(diff(with_h2, with_h2.with_item("H-2", Hazard("H-2", "Newer")))).entries
    assert (grown.action, grown.before) == (DeltaAction.ADDED, None)


hazard_files = st.dictionaries(
    st.sampled_from(["H-1", "H-2", "H-3", "H-4"]), st.sampled_from(["a", "b", "c"])
).map(lambda titles: RiskFile.of(Hazard(k, t) for k, t in titles.items()))


@given(hazard_files, hazard_files, hazard_files)
def test_composition_judges_changes_together(a: RiskFile, b: RiskFile, c: RiskFile) -> None:
    together = compose(diff(a, b), diff(b, c))
    assert together == diff(a, c)
    assert together.apply_to(a) == c
    assert diff(a, b).overlay(a) == b
