"""The pure VEX rules: values, validation, exposure, and the OpenVEX mapping both ways."""

from __future__ import annotations

import pytest
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisJustification,
    ImpactAnalysisResponse,
    ImpactAnalysisState,
)

from medfleet.vulns import vex
from medfleet.vulns.errors import InvalidVexError
from medfleet.vulns.vex import (
    AnalysisState,
    Justification,
    OpenVexJustification,
    OpenVexStatus,
    Response,
)


def test_vocabulary_is_cyclonedx_s() -> None:
    assert {s.value for s in AnalysisState} == {s.value for s in ImpactAnalysisState}
    assert {j.value for j in Justification} == {j.value for j in ImpactAnalysisJustification}
    assert {r.value for r in Response} == {r.value for r in ImpactAnalysisResponse}


@pytest.mark.parametrize(
    ("state", "exposed"),
    [
        ("not_affected", False),
        ("false_positive", False),
        ("resolved", False),
        ("resolved_with_pedigree", False),
        ("exploitable", True),
        ("in_triage", True),
    ],
)
def test_which_states_count_as_exposure(state: str, exposed: bool) -> None:
    assert vex.counts_as_exposure(state) is exposed


def test_a_valid_analysis_is_normalised() -> None:
    analysis = vex.check_analysis(
        " Not_Affected ", "code_not_reachable", ["will_not_fix", "update", "update"], "  why  "
    )
    assert analysis == vex.Analysis(
        AnalysisState.NOT_AFFECTED,
        Justification.CODE_NOT_REACHABLE,
        (Response.UPDATE, Response.WILL_NOT_FIX),
        "why",
    )
    assert analysis.counts_as_exposure is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("not_affected",), "needs a justification or a detail"),
        (("not_affected", None, (), "   "), "needs a justification or a detail"),
        (("exploitable",), "needs a response"),
        (("exploitable", "code_not_present", ["update"]), "only goes with not_affected"),
        (("in_triage", "requires_environment"), "only goes with not_affected"),
        (("affected",), "unknown analysis state 'affected'"),
        (("not_affected", "component_not_present"), "unknown justification"),
        (("resolved", None, ["patch"]), "unknown response 'patch'"),
        (("resolved", None, (), "x" * (vex.MAX_DETAIL + 1)), "at most"),
    ],
)
def test_broken_rules_are_refused(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidVexError, match=message):
        vex.check_analysis(*args)  # type: ignore[arg-type]


def test_not_affected_with_only_a_detail_is_enough() -> None:
    assert vex.check_analysis("not_affected", detail="no TLS").justification is None
    assert vex.check_analysis("exploitable", detail="update to 4.2.1").responses == ()


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("not_affected", "not_affected"),
        ("false_positive", "not_affected"),
        ("exploitable", "affected"),
        ("resolved", "fixed"),
        ("resolved_with_pedigree", "fixed"),
        ("in_triage", "under_investigation"),
    ],
)
def test_every_state_maps_to_openvex(state: str, status: str) -> None:
    analysis = vex.check_analysis(state, responses=["update"], detail="d")
    assert vex.to_openvex(analysis).status.value == status


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("not_affected", "not_affected"),
        ("affected", "exploitable"),
        ("fixed", "resolved"),
        ("under_investigation", "in_triage"),
    ],
)
def test_every_openvex_status_maps_to_a_state(status: str, state: str) -> None:
    analysis = vex.from_openvex(status, impact_statement="i", action_statement="a")
    assert analysis.state.value == state


@pytest.mark.parametrize(
    ("justification", "label"),
    [
        ("code_not_present", "vulnerable_code_not_present"),
        ("code_not_reachable", "vulnerable_code_not_in_execute_path"),
        ("requires_configuration", "vulnerable_code_cannot_be_controlled_by_adversary"),
        ("requires_dependency", "component_not_present"),
        ("requires_environment", "vulnerable_code_cannot_be_controlled_by_adversary"),
        ("protected_by_compiler", "inline_mitigations_already_exist"),
        ("protected_at_runtime", "inline_mitigations_already_exist"),
        ("protected_at_perimeter", "vulnerable_code_cannot_be_controlled_by_adversary"),
        ("protected_by_mitigating_control", "inline_mitigations_already_exist"),
    ],
)
def test_every_justification_maps_to_openvex(justification: str, label: str) -> None:
    mapped = vex.to_openvex(vex.check_analysis("not_affected", justification))
    assert mapped.justification is not None
    assert mapped.justification.value == label


@pytest.mark.parametrize(
    ("label", "justification"),
    [
        ("component_not_present", "code_not_present"),
        ("vulnerable_code_not_present", "code_not_present"),
        ("vulnerable_code_not_in_execute_path", "code_not_reachable"),
        ("vulnerable_code_cannot_be_controlled_by_adversary", "requires_environment"),
        ("inline_mitigations_already_exist", "protected_by_mitigating_control"),
    ],
)
def test_every_openvex_justification_maps_back(label: str, justification: str) -> None:
    analysis = vex.from_openvex("not_affected", label)
    assert analysis.justification is not None
    assert analysis.justification.value == justification
    assert vex.to_openvex(analysis).justification == label  # the author's own label goes out


def test_the_mapping_tables_cover_both_vocabularies() -> None:
    assert set(vex.STATE_TO_OPENVEX) == set(AnalysisState)
    assert set(vex.OPENVEX_TO_STATE) == set(OpenVexStatus)
    assert set(vex.JUSTIFICATION_TO_OPENVEX) == set(Justification)
    assert set(vex.OPENVEX_TO_JUSTIFICATION) == set(OpenVexJustification)
    for label in OpenVexJustification:  # the tables alone lose one label; the kept one fixes it
        back = vex.JUSTIFICATION_TO_OPENVEX[vex.OPENVEX_TO_JUSTIFICATION[label]]
        assert (back == label) is (label is not OpenVexJustification.COMPONENT_NOT_PRESENT)


def test_details_land_where_openvex_expects_them() -> None:
    not_affected = vex.to_openvex(vex.check_analysis("not_affected", detail="no heartbeat"))
    assert (not_affected.impact_statement, not_affected.justification) == ("no heartbeat", None)
    affected = vex.to_openvex(vex.check_analysis("exploitable", responses=["update"]))
    assert affected.action_statement == "Responses: update"
    fixed = vex.to_openvex(vex.check_analysis("resolved", detail="in 4.2.1"))
    assert (fixed.status_notes, fixed.impact_statement, fixed.action_statement) == (
        "in 4.2.1",
        "",
        "",
    )
    false_positive = vex.to_openvex(vex.check_analysis("false_positive", detail="wrong CPE"))
    assert false_positive.impact_statement == "False positive. wrong CPE"


def test_openvex_musts_are_enforced() -> None:
    with pytest.raises(InvalidVexError, match="justification or an impact_statement"):
        vex.from_openvex("not_affected")
    with pytest.raises(InvalidVexError, match="needs an action_statement"):
        vex.from_openvex("affected", impact_statement="irrelevant")
    with pytest.raises(InvalidVexError, match="unknown OpenVEX status"):
        vex.from_openvex("exploitable")
    with pytest.raises(InvalidVexError, match="unknown OpenVEX justification"):
        vex.from_openvex("not_affected", "code_not_present")


def test_openvex_detail_comes_from_the_field_the_status_calls_for() -> None:
    assert vex.from_openvex("affected", action_statement="update").detail == "update"
    assert vex.from_openvex("fixed", status_notes="in 4.2.1").detail == "in 4.2.1"
    assert vex.from_openvex("fixed", impact_statement="fallback").detail == "fallback"
    assert vex.from_openvex("not_affected", impact_statement=" no ash ").detail == "no ash"
