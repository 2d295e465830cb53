"""The device inventory: registration against the catalogue, sites and departments, UDI, tags,
editing by the owning hospital, filters, and the installed-version history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from medfleet.accounts import service as accounts
from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment, history, inventory
from medfleet.fleet.errors import (
    DeviceNotFoundError,
    FleetNotAllowedError,
    InvalidDeviceError,
    InvalidUdiError,
)
from medfleet.fleet.tables import Device
from medfleet.runtime import Runtime
from tests.builders import MODEL, MODEL_GTIN, World, build_world, register_model


@dataclass(frozen=True)
class Places:
    """Hospital A's ICU and ward at the main campus, a second A site, and B's ICU."""

    icu_a: int
    ward_a: int
    annex_a: int
    icu_b: int


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)


@pytest.fixture
def places(runtime: Runtime, world: World) -> Places:
    with transaction(runtime.sessions) as s:
        admin, audit = world.admin, runtime.audit
        annex = accounts.create_site(s, audit, admin, world.hospital_a, "Annex", "Europe/Berlin")
        return Places(
            icu_a=accounts.create_department(s, audit, admin, world.site_a, "ICU").id,
            ward_a=accounts.create_department(s, audit, admin, world.site_a, "Ward 3").id,
            annex_a=annex.id,
            icu_b=accounts.create_department(s, audit, admin, world.site_b, "ICU").id,
        )


def register(rt: Runtime, world: World, serial: str = "SN-1", **fields: Any) -> Device:
    values: dict[str, Any] = {
        "org_id": world.hospital_a,
        "model": MODEL,
        "hardware_revision": "B",
        "serial": serial,
        **fields,
    }
    with transaction(rt.sessions) as session:
        return enrollment.register_device(session, rt.audit, world.admin, **values).device


def device_count(rt: Runtime) -> int:
    with transaction(rt.sessions) as session:
        return len(session.scalars(select(Device.id)).all())


def payloads(rt: Runtime, action: str) -> list[dict[str, Any]]:
    with transaction(rt.sessions) as session:
        docs = session.scalars(
            select(AuditEventRow.doc)
            .where(AuditEventRow.action == action)
            .order_by(AuditEventRow.seq)
        )
        return [json.loads(doc)["payload"] for doc in docs]


def test_registration_with_place_flag_tags_and_udi(
    runtime: Runtime, world: World, places: Places
) -> None:
    udi = f"]d2 01{MODEL_GTIN} 11250601 17290600 10LOT-9\x1d 21SN-1".replace(" ", "")
    device = register(
        runtime, world, site_id=world.site_a, department_id=places.icu_a,
        is_test_device=True, tags=[" loaner ", "ICU pool", "loaner"], udi=udi,
    )  # fmt: skip
    with transaction(runtime.sessions) as session:
        stored = enrollment.get_device(session, world.biomed_a, device.device_id)
        assert (stored.site_name, stored.department_name) == ("Main Campus", "ICU")
        assert stored.is_test_device is True
        assert stored.tags == ["loaner", "ICU pool"]
        assert (stored.udi_di, stored.udi_lot, stored.udi_hri) == (
            MODEL_GTIN,
            "LOT-9",
            f"(01){MODEL_GTIN}(11)250601(17)290600(10)LOT-9(21)SN-1",
        )
        assert stored.udi_manufactured_on == date(2025, 6, 1)
        assert stored.udi_expires_on == date(2029, 6, 30)
        assert (stored.in_clinical_use, stored.clinical_use_reported_at) == (None, None)
    [event] = payloads(runtime, "device.registered")
    assert event["site_id"] == world.site_a
    assert event["department_id"] == places.icu_a
    assert event["tags"] == ["loaner", "ICU pool"]
    assert event["udi"].startswith(f"(01){MODEL_GTIN}")


def test_plain_registration_has_inventory_defaults(runtime: Runtime, world: World) -> None:
    device = register(runtime, world)
    assert (device.site_id, device.department_id, device.is_test_device, device.tags) == (
        None,
        None,
        False,
        [],
    )
    assert device.udi_di is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": "IP-200"}, "device model 'IP-200' is not in the catalogue"),
        ({"hardware_revision": "D"}, "IP-100 has no hardware revision 'D' (it has: A, B, C)"),
        ({"site_id": "B"}, "is not a site of St. Anna Hospital"),
        ({"site_id": 9999}, "site 9999 is not a site of St. Anna Hospital"),
        ({"department_id": "ICU-A"}, "a department can only be given together with its site"),
        ({"site_id": "A", "department_id": "ICU-B"}, "is not a department of Main Campus"),
        ({"site_id": "ANNEX", "department_id": "ICU-A"}, "is not a department of Annex"),
        ({"tags": ["ok", ""]}, "tag '' is not 1-64"),
        ({"tags": ["a;b"]}, "tag 'a;b' is not 1-64"),
        ({"tags": [f"t{i}" for i in range(21)]}, "at most 20 tags"),
        ({"udi": f"(01){MODEL_GTIN}(21)SN-2"}, "(21) 'SN-2' is not the device's serial 'SN-1'"),
        ({"udi": "(01)09506000134369(21)SN-1"}, "is not IP-100's GTIN 09506000134352"),
        ({"udi": "(01)09506000134353"}, "bad check digit (expected 2)"),
        ({"serial": "-x"}, "serial number '-x' is not 1-100"),
    ],
)
def test_refused_registrations_name_the_problem_and_change_nothing(
    runtime: Runtime, world: World, places: Places, fields: dict[str, Any], message: str
) -> None:
    ids = {"A": world.site_a, "B": world.site_b, "ANNEX": places.annex_a}
    departments = {"ICU-A": places.icu_a, "ICU-B": places.icu_b}
    if isinstance(fields.get("site_id"), str):
        fields["site_id"] = ids[fields["site_id"]]
    if isinstance(fields.get("department_id"), str):
        fields["department_id"] = departments[fields["department_id"]]
    with pytest.raises(InvalidDeviceError) as caught:
        register(runtime, world, **fields)
    assert message in str(caught.value)
    assert device_count(runtime) == 0
    assert payloads(runtime, "device.registered") == []


def test_a_udi_error_is_an_invalid_udi_error(runtime: Runtime, world: World) -> None:
    with pytest.raises(InvalidUdiError):
        register(runtime, world, udi="not a udi")


def test_another_models_revisions_and_gtin(runtime: Runtime, world: World) -> None:
    register_model(runtime, world.admin, "VM-7", ("r1",))
    device = register(runtime, world, model="VM-7", hardware_revision="r1",
                      udi="(01)09506000134369(21)SN-1")  # fmt: skip
    assert device.udi_di == "09506000134369"  # VM-7 has no GTIN: any valid DI is accepted
    with pytest.raises(InvalidDeviceError, match="VM-7 has no hardware revision 'B'"):
        register(runtime, world, "SN-2", model="VM-7")


def update(rt: Runtime, principal: Any, device_id: str, **changes: Any) -> Device:
    with transaction(rt.sessions) as session:
        return inventory.update_device(session, rt.audit, principal, device_id, **changes)


def test_the_owning_hospital_moves_flags_and_tags_its_device(
    runtime: Runtime, world: World, places: Places
) -> None:
    device_id = register(runtime, world).device_id
    moved = update(runtime, world.biomed_a, device_id, site_id=world.site_a,
                   department_id=places.icu_a)  # fmt: skip
    assert (moved.site_id, moved.department_id) == (world.site_a, places.icu_a)
    moved = update(runtime, world.admin_a, device_id, department_id=places.ward_a)
    assert (moved.site_id, moved.department_id) == (world.site_a, places.ward_a)
    moved = update(runtime, world.admin_a, device_id, site_id=places.annex_a)
    assert (moved.site_id, moved.department_id) == (places.annex_a, None)
    flagged = update(runtime, world.admin, device_id, is_test_device=True, tags=["pilot"])
    assert (flagged.is_test_device, flagged.tags) == (True, ["pilot"])
    same = update(runtime, world.admin, device_id, site_id=places.annex_a,
                  is_test_device=True, tags=["pilot"])  # fmt: skip
    assert same.tags == ["pilot"]
    cleared = update(runtime, world.biomed_a, device_id, site_id=None, tags=[])
    assert (cleared.site_id, cleared.department_id, cleared.tags) == (None, None, [])
    moves = payloads(runtime, "device.moved")
    assert [m["to"]["department"] for m in moves] == ["ICU", "Ward 3", None, None]
    assert moves[0]["from"] == {"site_id": None, "site": None, "department_id": None,
                                "department": None}  # fmt: skip
    assert moves[2]["to"]["site"] == "Annex"
    assert payloads(runtime, "device.test_flag_changed") == [{"from": False, "to": True}]
    assert payloads(runtime, "device.tags_changed") == [
        {"from": [], "to": ["pilot"]},
        {"from": ["pilot"], "to": []},
    ]


def test_who_may_edit_which_device(runtime: Runtime, world: World, places: Places) -> None:
    device_id = register(runtime, world).device_id
    for stranger in (world.biomed_b, world.admin_b):
        with pytest.raises(DeviceNotFoundError):
            update(runtime, stranger, device_id, tags=["mole"])
    for principal in (world.engineer, world.qa, world.auditor):
        with pytest.raises(FleetNotAllowedError):
            update(runtime, principal, device_id, tags=["x"])
    with pytest.raises(InvalidDeviceError, match=r"is not a site of St\. Anna Hospital"):
        update(runtime, world.admin_a, device_id, site_id=world.site_b)
    with pytest.raises(InvalidDeviceError, match="is not a department of Main Campus"):
        update(runtime, world.admin_a, device_id, site_id=world.site_a, department_id=places.icu_b)
    with pytest.raises(InvalidDeviceError, match="together with its site"):
        update(runtime, world.admin_a, device_id, department_id=places.icu_a)
    with transaction(runtime.sessions) as session:
        device = enrollment.get_device(session, world.admin, device_id)
        assert (device.site_id, device.tags) == (None, [])


def test_find_devices_filters_within_what_the_caller_sees(
    runtime: Runtime, world: World, places: Places
) -> None:
    register_model(runtime, world.admin, "VM-7", ("r1",))
    a1 = register(runtime, world, "A1", site_id=world.site_a).device_id
    a2 = register(runtime, world, "A2", site_id=places.annex_a, is_test_device=True).device_id
    a3 = register(runtime, world, "A3", model="VM-7", hardware_revision="r1").device_id
    b1 = register(runtime, world, "B1", org_id=world.hospital_b, site_id=world.site_b).device_id

    def ids(principal: Any, **filters: Any) -> list[str]:
        with transaction(runtime.sessions) as session:
            found = inventory.find_devices(session, principal, **filters)
            return [d.device_id for d in found]

    assert ids(world.admin) == [a1, a2, a3, b1]
    assert ids(world.auditor, org_id=world.hospital_b) == [b1]
    assert ids(world.admin, site_id=world.site_a) == [a1]
    assert ids(world.admin, model="VM-7") == [a3]
    assert ids(world.admin, test_only=True) == [a2]
    assert ids(world.biomed_a) == [a1, a2, a3]
    assert ids(world.biomed_a, org_id=world.hospital_b) == []
    assert ids(world.biomed_a, site_id=world.site_b) == []
    assert ids(world.biomed_b, model=MODEL) == [b1]


T0 = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def test_version_history_keeps_each_change_once(runtime: Runtime, world: World) -> None:
    device_id = register(runtime, world).device_id
    reports = [
        (1, None, None),  # nothing known yet: nothing to record
        (2, "4.1.0", 410),
        (3, "4.1.0", 410),
        (4, "4.2.0", 420),
        (5, "4.2.0", 420),
        (6, "4.1.0", 410),  # rolled back: a change again
    ]
    appended = []
    with transaction(runtime.sessions) as session:
        device = enrollment.get_device(session, world.admin, device_id)
        for seq, version, number in reports:
            appended.append(
                history.record_reported_version(
                    session,
                    device,
                    version=version,
                    version_number=number,
                    seq=seq,
                    reported_at=T0 + timedelta(minutes=seq),
                    received_at=T0 + timedelta(minutes=seq, seconds=5),
                )
            )
    assert appended == [False, True, False, True, False, True]
    with transaction(runtime.sessions) as session:
        rows = history.version_history(session, world.biomed_a, device_id)
        assert [(r.report_seq, r.version, r.version_number) for r in rows] == [
            (2, "4.1.0", 410),
            (4, "4.2.0", 420),
            (6, "4.1.0", 410),
        ]
        assert rows[0].reported_at == T0 + timedelta(minutes=2)
        assert rows[0].received_at == T0 + timedelta(minutes=2, seconds=5)
        with pytest.raises(DeviceNotFoundError):
            history.version_history(session, world.biomed_b, device_id)
        with pytest.raises(DeviceNotFoundError):
            history.version_history(session, world.admin, "dev-missing")
