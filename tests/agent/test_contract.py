"""The wire-format contract: custom fields round-trip, and malformed ones are refused clearly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
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


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    after=st.none() | instants,
    length=st.none() | st.timedeltas(timedelta(microseconds=1), timedelta(days=3650)),
)
def test_an_instruction_with_an_install_window_round_trips(
    after: datetime | None, length: timedelta | None
) -> None:
    before = None if length is None else (after or datetime(2050, 1, 1, tzinfo=UTC)) + length
    instruction = Instruction("dev-1", "R-1", 430, None, after, before)
    custom = instruction.to_custom()
    assert Instruction.from_custom(custom) == instruction
    for name, value in (("install_after", after), ("install_before", before)):
        text = custom["medfleet"][name]
        assert text is None if value is None else text.endswith("Z")


def test_an_instruction_without_window_keys_has_no_window() -> None:
    custom = Instruction("dev-1", "R-1", 430).to_custom()
    assert custom["medfleet"]["install_after"] is None
    del custom["medfleet"]["install_after"], custom["medfleet"]["install_before"]
    parsed = Instruction.from_custom(custom)
    assert (parsed.install_after, parsed.install_before) == (None, None)


def test_window_bounds_are_kept_in_utc_and_written_with_z() -> None:
    cet = timezone(timedelta(hours=1))
    instruction = Instruction(
        "dev-1", "R-1", 430, None, datetime(2026, 3, 7, 8, 0, tzinfo=cet), None
    )
    assert instruction.install_after == datetime(2026, 3, 7, 7, 0, tzinfo=UTC)
    assert instruction.to_custom()["medfleet"]["install_after"] == "2026-03-07T07:00:00Z"


@pytest.mark.parametrize(
    ("after", "before", "message"),
    [
        (datetime(2026, 3, 7, 7, 0), None, "time zone"),
        (None, datetime(2026, 3, 7, 7, 0), "time zone"),
        (datetime(2026, 3, 7, 11, tzinfo=UTC), datetime(2026, 3, 7, 7, tzinfo=UTC), "empty"),
        (datetime(2026, 3, 7, 7, tzinfo=UTC), datetime(2026, 3, 7, 7, tzinfo=UTC), "empty"),
    ],
)
def test_a_naive_or_empty_window_is_refused(
    after: datetime | None, before: datetime | None, message: str
) -> None:
    with pytest.raises(ContractError, match=message):
        Instruction("dev-1", "R-1", 430, None, after, before)


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-07T07:00:00",
        "2026-03-07T07:00:00+00:00",
        "2026-03-07T08:00:00+01:00",
        "tomorrow morningZ",
        1772866800,
        True,
        ["2026-03-07T07:00:00Z"],
    ],
)
@pytest.mark.parametrize("name", ["install_after", "install_before"])
def test_malformed_window_bounds_are_refused(name: str, value: object) -> None:
    custom = Instruction("dev-1", "R-1", 430).to_custom()
    custom["medfleet"][name] = value
    with pytest.raises(ContractError, match=name):
        Instruction.from_custom(custom)


def test_an_empty_window_on_the_wire_is_refused() -> None:
    custom = Instruction("dev-1", "R-1", 430).to_custom()
    custom["medfleet"] |= {
        "install_after": "2026-03-07T11:00:00Z",
        "install_before": "2026-03-07T07:00:00Z",
    }
    with pytest.raises(ContractError, match="empty"):
        Instruction.from_custom(custom)
