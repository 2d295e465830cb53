"""Importing many devices from one CSV file: all of them, or none.

The header names the columns (any order, case-insensitive): ``serial``, ``model``,
``hardware_revision`` and ``hospital`` are required; ``site``, ``department``, ``udi``,
``test_device`` and ``tags`` are optional. Hospitals, sites and departments are given by name;
tags are separated by ``;``; ``test_device`` is yes/no/true/false/1/0 or empty (no).

Every problem of every row is collected first (line number as an editor shows it, the header
being line 1; the column; the message), including serials repeated within the file or already
registered. If there is any, ``CsvImportError`` lists them all and nothing is imported.
Otherwise every device is registered through ``enrollment.register_device`` (same rules, one
audit event each) in the caller's one transaction, followed by one ``device.import`` summary
event, and each device's one-time enrollment token is returned.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.accounts.tables import Department, Organization, Site
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.fleet import device_fields as fields
from medfleet.fleet.enrollment import Registration, check_registrar, register_device
from medfleet.fleet.errors import CsvImportError, FleetError, FleetNotAllowedError
from medfleet.fleet.tables import Device, DeviceModel

COLUMNS = (
    "serial",
    "model",
    "hardware_revision",
    "hospital",
    "site",
    "department",
    "udi",
    "test_device",
    "tags",
)
REQUIRED = ("serial", "model", "hardware_revision", "hospital")
MAX_ROWS = 10_000
TAG_SEPARATOR = ";"
_TRUE = ("yes", "true", "1")
_FALSE = ("no", "false", "0", "")

T = TypeVar("T")


@dataclass(frozen=True)
class ImportedDevice:
    """One registered device and the line of the file it came from."""

    line: int
    registration: Registration


@dataclass(frozen=True)
class ImportResult:
    """Every device of the file, registered, with its one-time enrollment token."""

    devices: list[ImportedDevice]
    sha256: str


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    model: DeviceModel | None = None
    hospital: Organization | None = None
    site: Site | None = None
    department: Department | None = None
    test_device: bool = False
    tags: list[str] = field(default_factory=list)


def check_importer(principal: Principal) -> None:
    """Refuse callers who may not register devices (checked before the file is read).

    Raises:
        FleetNotAllowedError: not a manufacturer admin or fleet operator.
    """
    try:
        check_registrar(principal)
    except FleetNotAllowedError:
        raise FleetNotAllowedError(
            "importing devices needs the manufacturer's admin or fleet operator role"
        ) from None


def parse_flag(value: str) -> bool:
    """A yes/no cell: yes, true, 1 or no, false, 0, empty (any case).

    Raises:
        ValueError: anything else.
    """
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(f"{value!r} is not yes/no, true/false, 1/0 or empty")


class _Checker:
    """Collects problems, and caches catalogue and place look-ups across rows."""

    def __init__(self, session: Session, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.problems: list[dict[str, Any]] = []
        self._cache: dict[tuple[str, Any, str], Any] = {}

    def problem(self, line: int, column: str | None, message: str) -> None:
        self.problems.append({"line": line, "column": column, "message": message})

    def attempt(self, line: int, column: str, check: Callable[[], T]) -> T | None:
        """The check's result, or None after recording its error as a problem."""
        try:
            return check()
        except (FleetError, ValueError) as exc:
            self.problem(line, column, str(exc))
            return None

    def cached(self, kind: str, scope: Any, name: str, look_up: Callable[[], T]) -> T:
        key = (kind, scope, name)
        if key not in self._cache:
            try:
                self._cache[key] = look_up()
            except FleetError as exc:
                self._cache[key] = exc
        found = self._cache[key]
        if isinstance(found, FleetError):
            raise found
        return found  # type: ignore[no-any-return]


def _header(checker: _Checker, header: list[str]) -> list[str] | None:
    names = [name.strip().lower() for name in header]
    for index, name in enumerate(names):
        if name not in COLUMNS:
            checker.problem(1, name, f"unknown column (expected: {', '.join(COLUMNS)})")
        elif name in names[:index] and name not in names[index + 1 :]:
            checker.problem(1, name, "the column appears more than once")
    for name in REQUIRED:
        if name not in names:
            checker.problem(1, name, "required column is missing")
    return None if checker.problems else names


def _read_rows(checker: _Checker, text: str) -> list[_Row]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), strict=True)
    rows: list[_Row] = []
    names: list[str] | None = None
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if names is None:
                names = _header(checker, cells)
                if names is None:
                    return []
                continue
            if len(cells) != len(names):
                checker.problem(
                    line, None, f"has {len(cells)} fields where the header has {len(names)}"
                )
                continue
            rows.append(_Row(line, {n: cell.strip() for n, cell in zip(names, cells, strict=True)}))
            if len(rows) > MAX_ROWS:
                checker.problem(line, None, f"a file may hold at most {MAX_ROWS} devices")
                return []
    except csv.Error as exc:
        checker.problem(last_line + 1, None, f"not valid CSV: {exc}")
        return []
    if names is None:
        checker.problem(1, None, f"the file is empty; expected a header: {','.join(COLUMNS)}")
    elif not rows and not checker.problems:
        checker.problem(2, None, "the file has a header but no devices")
    return rows


def _check_row(checker: _Checker, row: _Row) -> None:
    session, line, values = checker.session, row.line, row.values
    for name in REQUIRED:
        if not values.get(name):
            checker.problem(line, name, "a value is required")
    serial = values["serial"] and checker.attempt(
        line, "serial", lambda: fields.check_serial(values["serial"])
    )
    model_name, revision = values["model"], values["hardware_revision"]
    if model_name:
        row.model = checker.attempt(
            line,
            "model",
            lambda: checker.cached("model", None, model_name, lambda: _model(session, model_name)),
        )
    if row.model is not None and revision:
        model = row.model
        checker.attempt(line, "hardware_revision", lambda: _revision(model, revision))
    if values["hospital"]:
        hospital_name = values["hospital"]
        row.hospital = checker.attempt(
            line,
            "hospital",
            lambda: checker.cached(
                "hospital",
                None,
                hospital_name,
                lambda: fields.find_hospital(session, checker.principal, hospital_name),
            ),
        )
    _check_place(checker, row)
    if values.get("udi") and serial and row.model is not None:
        model, udi = row.model, values["udi"]
        checker.attempt(line, "udi", lambda: fields.device_udi(udi, serial=serial, model=model))
    flag = checker.attempt(line, "test_device", lambda: parse_flag(values.get("test_device", "")))
    row.test_device = bool(flag)
    raw_tags = [t for t in values.get("tags", "").split(TAG_SEPARATOR) if t.strip()]
    row.tags = checker.attempt(line, "tags", lambda: fields.check_tags(raw_tags)) or []


def _model(session: Session, name: str) -> DeviceModel:
    fields.check_identifier("model", name)
    return fields.catalogue_model(session, name)


def _revision(model: DeviceModel, revision: str) -> None:
    fields.check_identifier("hardware revision", revision)
    fields.check_revision(model, revision)


def _check_place(checker: _Checker, row: _Row) -> None:
    values, hospital, line = row.values, row.hospital, row.line
    site_name, department_name = values.get("site", ""), values.get("department", "")
    if department_name and not site_name:
        checker.problem(line, "department", "a department needs its site in the site column")
    if hospital is None or not site_name:
        return
    site = checker.attempt(
        line,
        "site",
        lambda: checker.cached(
            "site",
            hospital.id,
            site_name,
            lambda: fields.find_site(checker.session, hospital, site_name),
        ),
    )
    row.site = site
    if site is not None and department_name:
        row.department = checker.attempt(
            line,
            "department",
            lambda: checker.cached(
                "department",
                site.id,
                department_name,
                lambda: fields.find_department(checker.session, site, department_name),
            ),
        )


def _check_duplicates(checker: _Checker, rows: list[_Row]) -> None:
    first_line: dict[tuple[str, str], int] = {}
    for row in rows:
        model, serial = row.values["model"], row.values["serial"].strip()
        if not (model and serial):
            continue
        key = (model, serial)
        if key in first_line:
            checker.problem(
                row.line, "serial", f"{model} {serial!r} is already on line {first_line[key]}"
            )
            continue
        first_line[key] = row.line
        existing = checker.session.scalar(
            select(Device.id).where(Device.model == model, Device.serial == serial)
        )
        if existing is not None:
            checker.problem(row.line, "serial", f"a {model} {serial!r} is already registered")


def _problem_order(problem: dict[str, Any]) -> tuple[int, int]:
    column = problem["column"]
    return problem["line"], COLUMNS.index(column) if column in COLUMNS else -1


def import_devices(
    session: Session, audit: AuditLog, principal: Principal, text: str
) -> ImportResult:
    """Register every device of the CSV ``text``, or none of them.

    Raises:
        FleetNotAllowedError: the caller is not a manufacturer admin or fleet operator.
        CsvImportError: the file has problems, all listed in ``problems``; nothing changed.
    """
    check_importer(principal)
    checker = _Checker(session, principal)
    rows = _read_rows(checker, text)
    for row in rows:
        _check_row(checker, row)
    _check_duplicates(checker, rows)
    if checker.problems:
        checker.problems.sort(key=_problem_order)
        raise CsvImportError(checker.problems)
    imported: list[ImportedDevice] = []
    for row in rows:
        assert row.hospital is not None  # checked above
        assert row.model is not None
        registration = register_device(
            session,
            audit,
            principal,
            org_id=row.hospital.id,
            model=row.model.name,
            hardware_revision=row.values["hardware_revision"],
            serial=row.values["serial"],
            site_id=None if row.site is None else row.site.id,
            department_id=None if row.department is None else row.department.id,
            is_test_device=row.test_device,
            tags=row.tags,
            udi=row.values.get("udi") or None,
        )
        imported.append(ImportedDevice(row.line, registration))
    digest = hashlib.sha256(text.encode()).hexdigest()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "device.import",
            "device_import",
            digest[:16],
            {
                "sha256": digest,
                "devices": len(imported),
                "device_ids": [d.registration.device.device_id for d in imported],
            },
        ),
    )
    return ImportResult(imported, digest)
