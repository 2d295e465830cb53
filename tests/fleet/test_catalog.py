"""The device-model catalogue: who may change it, what it accepts, what it records; and the
migration that puts the models of already registered devices into it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text

from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.db.migrate import alembic_config, upgrade
from medfleet.fleet import catalog
from medfleet.fleet.errors import (
    CatalogNotAllowedError,
    DeviceModelExistsError,
    DeviceModelNotFoundError,
    HardwareRevisionExistsError,
    InvalidDeviceModelError,
)
from medfleet.runtime import Runtime
from tests.builders import MODEL, MODEL_GTIN, World, build_world


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)


def events(rt: Runtime, prefix: str) -> list[tuple[str, str]]:
    with transaction(rt.sessions) as session:
        rows = session.execute(
            select(AuditEventRow.action, AuditEventRow.object_id)
            .where(AuditEventRow.action.startswith(prefix))
            .order_by(AuditEventRow.seq)
        )
        return [(action, object_id) for action, object_id in rows]


def test_the_world_has_ip100_with_three_revisions(runtime: Runtime, world: World) -> None:
    with transaction(runtime.sessions) as session:
        model = catalog.get_model(session, MODEL)
        assert (model.display_name, model.gtin, model.image_kind) == (
            "Infusion pump IP-100",
            MODEL_GTIN,
            "firmware",
        )
        assert model.revision_names == ["A", "B", "C"]
        assert model.supported_from_version_number is None
        assert model.org_id == world.admin.org_id
    assert events(runtime, "device_model.") == [("device_model.registered", MODEL)]
    assert events(runtime, "hardware_revision.") == [("hardware_revision.added", MODEL)] * 3


def test_engineers_and_fleet_staff_edit_hospitals_only_read(runtime: Runtime, world: World) -> None:
    with transaction(runtime.sessions) as session:
        created = catalog.register_model(
            session,
            runtime.audit,
            world.engineer,
            name="VM-7",
            display_name=" Ventilator VM-7 ",
            gtin="9506000134369",
            supported_from_version_number=300,
        )
        assert (created.display_name, created.gtin, created.image_kind) == (
            "Ventilator VM-7",
            "09506000134369",
            "software",
        )
        catalog.add_hardware_revision(session, runtime.audit, world.engineer, "VM-7", "r1", "x")
    for principal in (world.qa, world.auditor, world.admin_a, world.biomed_a):
        with pytest.raises(CatalogNotAllowedError), transaction(runtime.sessions) as session:
            catalog.register_model(session, runtime.audit, principal, name="VM-8", display_name="V")
        with pytest.raises(CatalogNotAllowedError), transaction(runtime.sessions) as session:
            catalog.add_hardware_revision(session, runtime.audit, principal, MODEL, "D")
        with pytest.raises(CatalogNotAllowedError), transaction(runtime.sessions) as session:
            catalog.set_supported_from(session, runtime.audit, principal, MODEL, 1)
    with transaction(runtime.sessions) as session:
        assert [m.name for m in catalog.list_models(session)] == [MODEL, "VM-7"]
        assert catalog.get_model(session, "VM-7").revision_names == ["r1"]
        assert catalog.get_model(session, MODEL).supported_from_version_number is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "a/b"}, "is not 1-64 letters"),
        ({"name": ""}, "is not 1-64 letters"),
        ({"display_name": "  "}, "display name is 1-200"),
        ({"display_name": "x" * 201}, "display name is 1-200"),
        ({"gtin": "09506000134353"}, "GTIN 09506000134353 has a bad check digit (expected 2)"),
        ({"gtin": "12345"}, "is not 8, 12, 13 or 14 digits"),
        ({"image_kind": "hardware"}, "image kind 'hardware' is not one of software, firmware"),
        ({"supported_from_version_number": -1}, "supported-from version number -1"),
    ],
)
def test_bad_models_are_refused_and_change_nothing(
    runtime: Runtime, world: World, fields: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {"name": "VM-7", "display_name": "Ventilator", **fields}
    with pytest.raises(InvalidDeviceModelError) as caught, transaction(runtime.sessions) as s:
        catalog.register_model(s, runtime.audit, world.admin, **values)  # type: ignore[arg-type]
    assert message in str(caught.value)
    with transaction(runtime.sessions) as session:
        assert [m.name for m in catalog.list_models(session)] == [MODEL]


def test_names_and_gtins_are_unique(runtime: Runtime, world: World) -> None:
    with (
        pytest.raises(DeviceModelExistsError, match="already in the catalogue"),
        transaction(runtime.sessions) as session,
    ):
        catalog.register_model(session, runtime.audit, world.admin, name=MODEL, display_name="x")
    with (
        pytest.raises(DeviceModelExistsError, match="already belongs to device model 'IP-100'"),
        transaction(runtime.sessions) as session,
    ):
        catalog.register_model(
            session, runtime.audit, world.admin, name="IP-200", display_name="x",
            gtin="9506000134352",  # the same GTIN as GTIN-13
        )  # fmt: skip
    with pytest.raises(HardwareRevisionExistsError), transaction(runtime.sessions) as session:
        catalog.add_hardware_revision(session, runtime.audit, world.admin, MODEL, "B")
    with pytest.raises(InvalidDeviceModelError), transaction(runtime.sessions) as session:
        catalog.add_hardware_revision(session, runtime.audit, world.admin, MODEL, "../x")
    with pytest.raises(DeviceModelNotFoundError), transaction(runtime.sessions) as session:
        catalog.add_hardware_revision(session, runtime.audit, world.admin, "IP-999", "A")
    with pytest.raises(DeviceModelNotFoundError), transaction(runtime.sessions) as session:
        catalog.get_model(session, "IP-999")


def test_supported_from_is_set_cleared_and_recorded_once(runtime: Runtime, world: World) -> None:
    for value in (420, 420, None):
        with transaction(runtime.sessions) as session:
            model = catalog.set_supported_from(session, runtime.audit, world.admin, MODEL, value)
            assert model.supported_from_version_number == value
    with transaction(runtime.sessions) as session:
        payloads = session.scalars(
            select(AuditEventRow.doc).where(
                AuditEventRow.action == "device_model.supported_from_set"
            )
        ).all()
    assert len(payloads) == 2  # setting the same value again records nothing
    assert '"from":null' in payloads[0]
    assert '"to":420' in payloads[0]


# -- the migration -------------------------------------------------------------------------


def test_upgrade_catalogues_the_models_devices_already_use(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0007")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with empty_engine.begin() as db:
        db.execute(
            text("INSERT INTO organization (id, name, kind, created_at) VALUES "
                 "(1, 'Acme', 'manufacturer', :t), (2, 'St. Anna', 'hospital', :t)"),
            {"t": now},
        )  # fmt: skip
        used = [("IP-100", "B"), ("IP-100", "C"), ("IP-100", "B"), ("VM-7", "r1")]
        for pk, (model, revision) in enumerate(used, start=1):
            db.execute(
                text("INSERT INTO device (id, device_id, org_id, model, hardware_revision, "
                     "serial, registered_at, last_report_seq) "
                     "VALUES (:pk, :d, 2, :m, :r, :s, :t, 1)"),
                {"pk": pk, "d": f"dev-{pk}", "m": model, "r": revision, "s": f"S{pk}", "t": now},
            )  # fmt: skip
        db.execute(
            text("INSERT INTO device_report (device_pk, seq, body_sha256, body, received_at) "
                 "VALUES (1, 1, 'x', :b, :t)"),
            {"b": b"{}", "t": now},
        )  # fmt: skip
    upgrade(empty_engine, "0008")
    with empty_engine.begin() as db:
        models = db.execute(
            text("SELECT name, org_id, display_name, image_kind, gtin FROM device_model "
                 "ORDER BY name")
        ).all()  # fmt: skip
        revisions = db.execute(
            text("SELECT m.name, r.name FROM hardware_revision r "
                 "JOIN device_model m ON m.id = r.model_id ORDER BY m.name, r.name")
        ).all()  # fmt: skip
        devices = db.execute(
            text("SELECT is_test_device, tags, site_id FROM device ORDER BY id")
        ).all()
    assert [tuple(m) for m in models] == [
        ("IP-100", 1, "IP-100", "software", None),
        ("VM-7", 1, "VM-7", "software", None),
    ]
    assert [tuple(r) for r in revisions] == [("IP-100", "B"), ("IP-100", "C"), ("VM-7", "r1")]
    assert [(bool(t), str(tags).replace(" ", ""), s) for t, tags, s in devices] == [
        (False, "[]", None)
    ] * 4
    with empty_engine.begin() as db:
        db.execute(text("DELETE FROM device_report"))  # SQLite rebuilds the table on downgrade
    command.downgrade(alembic_config(empty_engine), "0007")
    columns = {c["name"] for c in inspect(empty_engine).get_columns("device")}
    assert "site_id" not in columns
    assert "device_model" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine, "0008")
    assert "udi_hri" in {c["name"] for c in inspect(empty_engine).get_columns("device")}
