"""``medfleet windows``: add, list, upcoming (local time, zone, DST note), blackouts, errors.

The CLI runs on the system clock, so ``upcoming`` is checked with rules whose every occurrence
is known whatever today is: the last Sunday of March at 02:30 in Berlin always falls into the
spring-forward gap.
"""

from __future__ import annotations

import re

import pytest

from tests.cli.conftest import USER_PASSWORD, Cli


@pytest.fixture
def hospital(cli: Cli) -> dict[str, int]:
    """A hospital with a Berlin site (with an ICU) and a biomed user ``bo``."""
    org = cli.json("accounts", "add-hospital", "St. Anna", "--user", "admin")
    site = cli.json(
        "accounts",
        "add-site",
        str(org["id"]),
        "Main",
        "--timezone",
        "Europe/Berlin",
        "--user",
        "admin",
    )
    icu = cli.json("accounts", "add-department", str(site["id"]), "ICU", "--user", "admin")
    cli.json(
        "accounts",
        "add-user",
        str(org["id"]),
        "bo",
        "--name",
        "Bo Biomed",
        "--role",
        "hospital_biomed",
        "--user",
        "admin",
    )
    return {"org": org["id"], "site": site["id"], "icu": icu["id"]}


def bo(cli: Cli, *args: str) -> tuple[int, str, str]:
    return cli("windows", *args, "--user", "bo", password=USER_PASSWORD)


def bo_json(cli: Cli, *args: str) -> object:
    return cli.json("windows", *args, "--user", "bo", password=USER_PASSWORD)


def test_add_list_upcoming_and_remove(cli: Cli, hospital: dict[str, int]) -> None:
    window = bo_json(
        cli,
        "add",
        "--site",
        "Main",
        "--name",
        "Spring change",
        "--start",
        "2026-03-29T02:30",
        "--rrule",
        "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        "--duration",
        "1h30m",
    )
    assert isinstance(window, dict)
    assert window["timezone"] == "Europe/Berlin"
    assert window["duration_minutes"] == 90
    assert window["created_by"] == "bo"
    listed = bo_json(cli, "list", "--site", str(hospital["site"]))
    assert listed == [window]
    upcoming = bo_json(cli, "upcoming", "--site", "Main", "--count", "2")
    assert isinstance(upcoming, dict)
    assert upcoming["timezone"] == "Europe/Berlin"
    assert len(upcoming["openings"]) == 2
    for opening in upcoming["openings"]:
        assert opening["window"] == "Spring change"
        assert opening["zone_start"] == opening["zone_end"] == "CEST"
        assert re.fullmatch(r"\d{4}-03-\d\dT03:30:00\+02:00", opening["local_start"])
        assert "02:30 does not exist" in opening["adjusted"]
    code, out, err = bo(cli, "upcoming", "--site", "Main", "--count", "1")
    assert code == 0, err
    assert re.search(
        r"Sun \d{4}-03-\d\d 03:30 CEST \(\+02:00\) → 05:00 CEST \(\+02:00\) \(1h30m\)", out
    )
    assert "note: 02:30 does not exist" in out
    code, out, err = bo(cli, "list")
    assert code == 0, err
    assert "Spring" in out
    removed = bo_json(cli, "remove", str(window["id"]))
    assert removed == {"id": window["id"], "name": "Spring change", "removed": True}
    assert bo_json(cli, "list") == []


def test_department_window_and_upcoming_text_spanning_the_change(
    cli: Cli, hospital: dict[str, int]
) -> None:
    # The Saturday before the last Sunday of March, 22:00 for 8 hours: always ends in CEST.
    bo_json(
        cli,
        "add",
        "--site",
        "Main",
        "--department",
        "ICU",
        "--name",
        "Night",
        "--start",
        "2026-03-28T22:00",
        "--rrule",
        "FREQ=YEARLY;BYMONTH=3;BYDAY=SA;BYMONTHDAY=24,25,26,27,28,29,30",
        "--duration",
        "8h",
    )
    code, out, err = bo(cli, "upcoming", "--site", "Main", "--department", "ICU", "--count", "1")
    assert code == 0, err
    expected = r"Sat \d{4}-03-\d\d 22:00 CET \(\+01:00\) → Sun \d{4}-03-\d\d 07:00 CEST \(\+02:00\)"
    assert re.search(expected + r" \(8h\)", out)
    code, out, _ = bo(cli, "upcoming", "--site", "Main")
    assert code == 0
    assert "no window opens" in out  # the site itself has no window


def test_blackouts_by_site_and_hospital(cli: Cli, hospital: dict[str, int]) -> None:
    site = bo_json(
        cli,
        "blackout",
        "add",
        "--site",
        "Main",
        "--from",
        "2026-12-24",
        "--to",
        "2026-12-26",
        "--reason",
        "Christmas",
    )
    whole = bo_json(
        cli,
        "blackout",
        "add",
        "--hospital",
        "St. Anna",
        "--from",
        "2026-12-31",
        "--to",
        "2027-01-01",
        "--reason",
        "New year",
    )
    assert isinstance(site, dict)
    assert isinstance(whole, dict)
    assert (site["scope"], whole["scope"]) == ("site", "hospital")
    listed = bo_json(cli, "blackout", "list", "--site", "Main")
    assert [b["reason"] for b in listed] == ["Christmas", "New year"]  # type: ignore[union-attr]
    code, out, _ = bo(cli, "blackout", "list")
    assert code == 0
    assert "New year" in out
    bo_json(cli, "blackout", "remove", str(site["id"]))
    assert [b["id"] for b in bo_json(cli, "blackout", "list")] == [whole["id"]]  # type: ignore[union-attr]


def test_errors_exit_with_the_category_code(cli: Cli, hospital: dict[str, int]) -> None:
    add = ["add", "--site", "Main", "--name", "W", "--start", "2026-03-07T02:00"]
    code, _, err = bo(cli, *add, "--rrule", "FREQ=WEEKLY", "--duration", "4 hours")
    assert (code, "not like 4h" in err) == (3, True)
    code, _, err = bo(cli, *add, "--rrule", "FREQ=WEEKLY;UNTIL=20261231T000000", "--duration", "4h")
    assert (code, "UTC time" in err) == (3, True)
    code, out, _ = cli(
        "windows", *add, "--rrule", "FREQ=WEEKLY", "--duration", "4h", "--user", "admin", "--json"
    )
    assert code == 6
    assert "chosen by the hospital" in out
    code, _, err = bo(
        cli,
        "add",
        "--site",
        "Elsewhere",
        "--name",
        "W",
        "--start",
        "2026-03-07T02:00",
        "--rrule",
        "FREQ=WEEKLY",
        "--duration",
        "4h",
    )
    assert (code, "not found" in err) == (4, True)
    code, _, err = bo(
        cli, "blackout", "add", "--from", "2026-12-24", "--to", "2026-12-24", "--reason", "x"
    )
    assert (code, "--site or --hospital" in err) == (3, True)
    code, _, err = bo(
        cli,
        "blackout",
        "add",
        "--site",
        "Main",
        "--from",
        "24.12.2026",
        "--to",
        "2026-12-24",
        "--reason",
        "x",
    )
    assert (code, "not a date" in err) == (3, True)
    code, _, _ = bo(cli, "remove", "99")
    assert code == 4
    assert bo_json(cli, "list") == []
    assert bo_json(cli, "blackout", "list") == []
