"""Importing devices from CSV: all rows or none, and every problem of every row reported."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from medfleet.accounts import service as accounts
from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.fleet import csv_import, enrollment
from medfleet.fleet.errors import CsvImportError, FleetNotAllowedError
from medfleet.fleet.tables import Device
from medfleet.runtime import Runtime
from tests.builders import MODEL_GTIN, World, build_world

HEADER = "serial,model,hardware_revision,hospital,site,department,udi,test_device,tags\n"


@pytest.fixture
def world(runtime: Runtime) -> World:
    built = build_world(runtime)
    with transaction(runtime.sessions) as s:
        accounts.create_department(s, runtime.audit, built.admin, built.site_a, "ICU")
    return built


def run(rt: Runtime, world: World, text: str, principal: Any = None) -> csv_import.ImportResult:
    with transaction(rt.sessions) as session:
        return csv_import.import_devices(session, rt.audit, principal or world.admin, text)


def problems_of(rt: Runtime, world: World, text: str) -> list[tuple[int, str | None, str]]:
    before = devices(rt)
    with pytest.raises(CsvImportError) as caught:
        run(rt, world, text)
    error = caught.value
    assert error.problem_members() == {"problems": error.problems}
    assert "nothing was imported" in str(error)
    assert devices(rt) == before
    return [(p["line"], p["column"], p["message"]) for p in error.problems]


def devices(rt: Runtime) -> list[tuple[str, str, bool, list[str]]]:
    with transaction(rt.sessions) as session:
        rows = session.scalars(select(Device).order_by(Device.id))
        return [(d.serial, d.hardware_revision, d.is_test_device, list(d.tags)) for d in rows]


def test_a_good_file_registers_every_device_with_its_token(runtime: Runtime, world: World) -> None:
    text = (
        "\ufeff"  # a BOM, as spreadsheets write it
        + HEADER
        + "SN-1,IP-100,B,St. Anna Hospital,Main Campus,ICU,"
        + f"(01){MODEL_GTIN}(21)SN-1,yes,loaner;ICU\n"
        + "\n"  # blank lines are skipped
        + "SN-2,IP-100,C,Bayview Medical Center,North,,,no,\n"
        + '"SN 3",IP-100,A,"St. Anna Hospital",,,,,"pilot; spare"\n'
    )
    result = run(runtime, world, text)
    assert [d.line for d in result.devices] == [2, 4, 5]
    tokens = [d.registration.enrollment_token for d in result.devices]
    assert all(t.startswith("mfe_") for t in tokens)
    assert len(set(tokens)) == 3
    assert devices(runtime) == [
        ("SN-1", "B", True, ["loaner", "ICU"]),
        ("SN-2", "C", False, []),
        ("SN 3", "A", False, ["pilot", "spare"]),
    ]
    with transaction(runtime.sessions) as session:
        first = enrollment.get_device(
            session, world.biomed_a, result.devices[0].registration.device.device_id
        )
        assert (first.site_name, first.department_name, first.udi_di) == (
            "Main Campus",
            "ICU",
            MODEL_GTIN,
        )
        actions = session.scalars(
            select(AuditEventRow.action)
            .where(AuditEventRow.action.startswith("device."))
            .order_by(AuditEventRow.seq)
        ).all()
        summary = session.scalar(
            select(AuditEventRow.doc).where(AuditEventRow.action == "device.import")
        )
    assert actions == ["device.registered"] * 3 + ["device.import"]
    assert summary is not None
    payload = json.loads(summary)["payload"]
    assert payload["devices"] == 3
    assert payload["sha256"] == result.sha256
    assert payload["device_ids"] == [d.registration.device.device_id for d in result.devices]


def test_columns_in_any_order_and_only_the_required_ones(runtime: Runtime, world: World) -> None:
    text = "Hospital, Serial ,hardware_revision,MODEL\nSt. Anna Hospital,X1,B,IP-100\n"
    assert len(run(runtime, world, text).devices) == 1


def test_every_problem_of_every_row_is_reported(runtime: Runtime, world: World) -> None:
    with transaction(runtime.sessions) as session:
        enrollment.register_device(
            session, runtime.audit, world.admin, org_id=world.hospital_b, model="IP-100",
            hardware_revision="B", serial="OLD-1",
        )  # fmt: skip
    text = HEADER + "\n".join(
        [
            "OK-1,IP-100,B,St. Anna Hospital,,,,,",  # 2: fine
            ",IP-200,B,Nowhere General,,,,maybe,",  # 3
            "OK-2,IP-100,D,St. Anna Hospital,Main Campus,Radiology,,,",  # 4
            "OK-1,IP-100,B,St. Anna Hospital,,,,,",  # 5: repeats line 2
            "OLD-1,IP-100,B,Bayview Medical Center,,,,,",  # 6: already registered
            "OK-3,IP-100,B,St. Anna Hospital,,ICU,(01)09506000134353,1,bad;;ok",  # 7
            "OK-4,IP-100,B,St. Anna Hospital,Main Campus",  # 8: too few fields
            "OK-5,IP-100,B,St. Anna Hospital,North,,(01)09506000134352(21)OK-9,,a,b",  # 9
            "OK-6,IP-100,B,St. Anna Hospital,North,,(01)09506000134352(21)OK-9,,t!",  # 10
        ]
    )
    assert problems_of(runtime, world, text) == [
        (3, "serial", "a value is required"),
        (3, "model", "device model 'IP-200' is not in the catalogue (register it first: "
                     "'medfleet models register')"),
        (3, "hospital", "no hospital named 'Nowhere General'"),
        (3, "test_device", "'maybe' is not yes/no, true/false, 1/0 or empty"),
        (4, "hardware_revision", "IP-100 has no hardware revision 'D' (it has: A, B, C)"),
        (4, "department", "site Main Campus has no department named 'Radiology'"),
        (5, "serial", "IP-100 'OK-1' is already on line 2"),
        (6, "serial", "a IP-100 'OLD-1' is already registered"),
        (7, "department", "a department needs its site in the site column"),
        (7, "udi", "GTIN 09506000134353 has a bad check digit (expected 2)"),
        (8, None, "has 5 fields where the header has 9"),
        (9, None, "has 10 fields where the header has 9"),
        (10, "site", "St. Anna Hospital has no site named 'North'"),
        (10, "udi", "the UDI's serial number (21) 'OK-9' is not the device's serial 'OK-6'"),
        (10, "tags", "tag 't!' is not 1-64 letters, digits, spaces and ._:/+- "
                     "(starting with a letter or digit)"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [(1, None, "the file is empty; expected a header: " + HEADER.strip())]),
        (HEADER, [(2, None, "the file has a header but no devices")]),
        (
            "serial,model,colour,model\nX,IP-100,red,IP-100\n",
            [
                (1, "colour", "unknown column (expected: " + HEADER.strip().replace(",", ", ")
                 + ")"),
                (1, "model", "the column appears more than once"),
                (1, "hardware_revision", "required column is missing"),
                (1, "hospital", "required column is missing"),
            ],
        ),
        (
            'serial,model,hardware_revision,hospital\n"X,IP-100,B,St. Anna Hospital\n',
            [(2, None, "not valid CSV: unexpected end of data")],
        ),
    ],
)  # fmt: skip
def test_a_broken_file_is_refused(
    runtime: Runtime, world: World, text: str, expected: list[tuple[int, str | None, str]]
) -> None:
    assert problems_of(runtime, world, text) == expected


def test_line_numbers_count_lines_of_the_file_not_records(runtime: Runtime, world: World) -> None:
    text = (
        "serial,model,hardware_revision,hospital,tags\n"
        '"A-1",IP-100,B,St. Anna Hospital,"first\nsecond"\n'  # one record over lines 2 and 3
        "A-2,IP-100,X,St. Anna Hospital,\n"  # line 4
    )
    assert problems_of(runtime, world, text) == [
        (2, "tags", "tag 'first\\nsecond' is not 1-64 letters, digits, spaces and ._:/+- "
                    "(starting with a letter or digit)"),
        (4, "hardware_revision", "IP-100 has no hardware revision 'X' (it has: A, B, C)"),
    ]  # fmt: skip


def test_only_manufacturer_registrars_import(runtime: Runtime, world: World) -> None:
    text = HEADER + "SN-1,IP-100,B,St. Anna Hospital,,,,,\n"
    for principal in (world.engineer, world.admin_a, world.biomed_a):
        with pytest.raises(FleetNotAllowedError):
            run(runtime, world, text, principal)
    assert devices(runtime) == []


def test_a_hospital_in_the_file_is_found_by_exact_name(runtime: Runtime, world: World) -> None:
    text = HEADER + "SN-1,IP-100,B,st. anna hospital,,,,,\n"
    assert problems_of(runtime, world, text) == [
        (2, "hospital", "no hospital named 'st. anna hospital'")
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("yes", True), ("TRUE", True), ("1", True), (" no ", False), ("False", False),
     ("0", False), ("", False)],
)  # fmt: skip
def test_parse_flag(value: str, expected: bool) -> None:
    assert csv_import.parse_flag(value) is expected


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.text(max_size=12), min_size=0, max_size=14))
def test_any_row_either_imports_or_is_refused_with_problems(
    runtime: Runtime, world: World, cells: list[str]
) -> None:
    """Arbitrary cells never crash the import: a result or a CsvImportError with problems."""
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    problems: list[dict[str, Any]] = []
    try:
        with transaction(runtime.sessions) as session:
            result = csv_import.import_devices(
                session, runtime.audit, world.admin, HEADER + out.getvalue()
            )
            assert len(result.devices) == 1
            raise Undo  # roll back: every example starts from the same database
    except Undo:
        pass
    except CsvImportError as exc:
        problems = exc.problems
        assert problems, "a refusal names at least one problem"
    assert all(p["line"] in (1, 2) for p in problems)
    assert devices(runtime) == []


class Undo(Exception):  # noqa: N818 - a control-flow signal
    """Raised to roll a transaction back on purpose."""
