"""The wire-format contract: custom fields round-trip, and malformed ones are refused clearly."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.agent.contract import (
    ContractError,
    DeltaInfo,
    ImageInfo,
    Instruction,
    check_name,
    director_metadata_url,
    image_metadata_url,
    model_role,
)

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)
numbers = st.integers(min_value=0, max_value=2**53)


@given(
    release=st.text(),
    model=names,
    revisions=st.lists(st.text(), max_size=3),
    version=st.text(),
    number=numbers,
    floor=st.none() | numbers,
)
def test_image_info_round_trips(
    release: str, model: str, revisions: list[str], version: str, number: int, floor: int | None
) -> None:
    info = ImageInfo(release, model, tuple(revisions), version, number, floor)
    assert ImageInfo.from_custom(info.to_custom()) == info


def test_delta_and_instruction_round_trip() -> None:
    delta = DeltaInfo("IP-100", "a" * 64, "IP-100/x.img", "zstd-patch-from")
    assert DeltaInfo.from_custom(delta.to_custom()) == delta
    instruction = Instruction("dev-1", "R-1", 430, "IP-100/deltas/d.delta")
    assert Instruction.from_custom(instruction.to_custom()) == instruction


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version_number": True}, "version_number"),
        ({"version_number": "430"}, "version_number"),
        ({"hardware_revisions": "B"}, "hardware_revisions"),
        ({"hardware_revisions": [1]}, "hardware_revisions"),
        ({"min_from_version_number": 1.5}, "min_from_version_number"),
        ({"kind": "delta"}, "not a medfleet image"),
        ({"release_id": None}, "release_id"),
    ],
)
def test_malformed_image_fields_are_refused(change: dict[str, Any], message: str) -> None:
    custom = ImageInfo("R-1", "IP-100", ("B",), "4.3.0", 430).to_custom()
    custom["medfleet"].update(change)
    with pytest.raises(ContractError, match=message):
        ImageInfo.from_custom(custom)


@pytest.mark.parametrize("custom", [None, {}, {"medfleet": "x"}, ["medfleet"], "medfleet"])
def test_a_target_without_the_section_is_refused(custom: Any) -> None:
    with pytest.raises(ContractError, match="custom section"):
        Instruction.from_custom(custom)


def test_unknown_delta_methods_are_refused() -> None:
    custom = DeltaInfo("IP-100", "a" * 64, "p", "bsdiff4").to_custom()
    custom["medfleet"]["method"] = "xdelta3"
    with pytest.raises(ContractError, match="method"):
        DeltaInfo.from_custom(custom)


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "..", "x" * 65, "sp ace"])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ContractError):
        check_name("model", name)


def test_urls_follow_the_layout() -> None:
    assert image_metadata_url("https://u.example/") == "https://u.example/repo/image/metadata/"
    assert (
        director_metadata_url("https://u.example", "dev-1")
        == "https://u.example/repo/director/dev-1/metadata/"
    )
    assert model_role("IP-100") == "model-IP-100"
    with pytest.raises(ContractError):
        director_metadata_url("https://u.example", "../root")
