"""Reading advisory records offline: JSON files, directories (``*.json``, recursively) and zip
archives such as OSV's ``all.zip``.

A file holds one record or a list of records. NVD files hold a CVE API 2.0 answer
(``{"vulnerabilities": [{"cve": …}]}``) or one ``{"cve": …}``. With ``format="auto"`` each
document is recognised by its shape: ``vulnerabilities`` or ``cve`` (or an object with NVD's
``vulnStatus``/``sourceIdentifier``) is NVD, anything else OSV.

Zip archives are opened with limits (``ZipLimits``) against zip bombs: the number of members,
each member's uncompressed size and the total, all enforced on the bytes actually inflated, not
on what the archive declares. Every error names the file (and member, and index) it is about.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from medfleet.vulns.advisory_model import ParsedAdvisory
from medfleet.vulns.errors import InvalidAdvisoryError
from medfleet.vulns.nvd import parse_nvd_cve
from medfleet.vulns.osv import parse_osv

Format = Literal["auto", "osv", "nvd"]
FORMATS: tuple[Format, ...] = ("auto", "osv", "nvd")
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """How much a zip archive may hold before it is refused as a likely zip bomb."""

    max_members: int = 500_000
    max_member_bytes: int = MAX_FILE_BYTES
    max_total_bytes: int = 4 * 1024 * 1024 * 1024


def check_format(value: str) -> Format:
    """``auto``, ``osv`` or ``nvd``.

    Raises:
        InvalidAdvisoryError: anything else.
    """
    for known in FORMATS:
        if value == known:
            return known
    raise InvalidAdvisoryError(f"unknown advisory format {value!r} (known: {', '.join(FORMATS)})")


def read_advisories(
    paths: Sequence[Path], fmt: Format = "auto", limits: ZipLimits | None = None
) -> list[ParsedAdvisory]:
    """Every advisory record in ``paths`` (files, directories, zip archives), in order.

    Raises:
        InvalidAdvisoryError: a path that does not exist, unreadable JSON, an invalid record,
            or a zip archive beyond ``limits``.
    """
    parsed: list[ParsedAdvisory] = []
    for location, document in iter_documents(paths, limits or ZipLimits()):
        parsed.extend(parse_document(document, fmt, location))
    return parsed


def iter_documents(paths: Sequence[Path], limits: ZipLimits) -> Iterator[tuple[str, Any]]:
    """``(location, JSON value)`` for every JSON document under ``paths``.

    Raises:
        InvalidAdvisoryError: see ``read_advisories``.
    """
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*.json") if p.is_file()):
                yield str(file), _load(_read_file(file), str(file))
        elif path.is_file() and zipfile.is_zipfile(path):
            yield from _zip_documents(path, limits)
        elif path.is_file():
            yield str(path), _load(_read_file(path), str(path))
        else:
            raise InvalidAdvisoryError(f"{path}: no such file or directory")


def _read_file(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InvalidAdvisoryError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return path.read_bytes()


def _zip_documents(path: Path, limits: ZipLimits) -> Iterator[tuple[str, Any]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidAdvisoryError(f"{path}: not a readable zip archive ({exc})") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > limits.max_members:
            raise InvalidAdvisoryError(
                f"{path}: {len(members)} members, more than the {limits.max_members} allowed"
            )
        total = 0
        for member in sorted(members, key=lambda m: m.filename):
            if not member.filename.endswith(".json"):
                continue
            location = f"{path}:{member.filename}"
            data = _inflate(archive, member, limits.max_member_bytes, location)
            total += len(data)
            if total > limits.max_total_bytes:
                raise InvalidAdvisoryError(
                    f"{path}: inflates to more than {limits.max_total_bytes} bytes"
                )
            yield location, _load(data, location)


def _inflate(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int, where: str) -> bytes:
    if member.file_size > limit:
        raise InvalidAdvisoryError(f"{where}: declares {member.file_size} bytes, over {limit}")
    try:
        with archive.open(member) as stream:
            data = stream.read(limit + 1)  # the declared size may lie: read one byte past
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
        raise InvalidAdvisoryError(f"{where}: cannot be inflated ({exc})") from exc
    if len(data) > limit:
        raise InvalidAdvisoryError(f"{where}: inflates to more than {limit} bytes")
    return data


def _load(data: bytes, location: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidAdvisoryError(f"{location}: not valid JSON ({exc})") from exc


def parse_document(document: Any, fmt: Format, location: str) -> list[ParsedAdvisory]:
    """The advisory records of one JSON document (a record, a list, an NVD answer).

    Raises:
        InvalidAdvisoryError: the document or a record in it is invalid for ``fmt``.
    """
    if isinstance(document, list):
        return [
            advisory
            for index, item in enumerate(document)
            for advisory in parse_document(item, fmt, f"{location}[{index}]")
        ]
    if not isinstance(document, Mapping):
        raise InvalidAdvisoryError(f"{location}: expected a JSON object or a list of them")
    kind = _recognise(document) if fmt == "auto" else fmt
    if kind == "osv":
        return [parse_osv(document, location)]
    if "vulnerabilities" in document:
        entries = document["vulnerabilities"]
        if not isinstance(entries, list):
            raise InvalidAdvisoryError(f"{location}: 'vulnerabilities' must be a list")
        return [
            parse_nvd_cve(_cve_of(entry, f"{location}[{i}]"), f"{location}[{i}]")
            for i, entry in enumerate(entries)
        ]
    if "cve" in document:
        return [parse_nvd_cve(document["cve"], location)]
    return [parse_nvd_cve(document, location)]


def _cve_of(entry: object, location: str) -> object:
    if not isinstance(entry, Mapping) or "cve" not in entry:
        raise InvalidAdvisoryError(f"{location}: NVD entries must be objects with a 'cve'")
    return entry["cve"]


def _recognise(document: Mapping[str, Any]) -> Format:
    nvd_keys = {"vulnerabilities", "cve", "vulnStatus", "sourceIdentifier"}
    return "nvd" if nvd_keys & document.keys() else "osv"
