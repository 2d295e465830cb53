"""Reading advisories offline: files, directories, OSV-style zips (with zip-bomb limits)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from medfleet.vulns.advisory_model import Source
from medfleet.vulns.advisory_sources import ZipLimits, check_format, read_advisories
from medfleet.vulns.errors import InvalidAdvisoryError
from tests.vulns.support_advisory import FIXTURES, NVD_DIR, OSV_DIR, document, osv_zip, parse

OSV_IDS = {
    "CVE-2014-0160",
    "CVE-2022-3602",
    "DEBIAN-CVE-2022-3602",
    "DSA-2896-1",
    "GHSA-57m8-f3v5-hm5m",
    "GHSA-j8r2-6x86-q33q",
}


def test_a_directory_is_read_recursively_in_both_formats() -> None:
    records = read_advisories([FIXTURES])
    by_source = {(a.source, a.source_id) for a in records}
    assert {i for s, i in by_source if s is Source.OSV} == OSV_IDS
    assert {i for s, i in by_source if s is Source.NVD} == {
        "CVE-2014-0160",
        "CVE-2014-0346",
        "CVE-2022-3602",
        "CVE-2023-32681",
    }


def test_an_osv_zip_reads_like_the_directory(tmp_path: Path) -> None:
    from_zip = read_advisories([osv_zip(tmp_path)], "osv")
    from_dir = read_advisories([OSV_DIR], "osv")
    assert [a.content_sha256 for a in from_zip] == [a.content_sha256 for a in from_dir]
    assert {a.source_id for a in from_zip} == OSV_IDS


def test_a_file_with_a_list_of_records(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    records = [document("osv/GHSA-j8r2-6x86-q33q.json"), document("osv/DSA-2896-1.json")]
    path.write_text(json.dumps(records))
    assert [a.source_id for a in read_advisories([path])] == [
        "GHSA-j8r2-6x86-q33q",
        "DSA-2896-1",
    ]


def test_nvd_shapes_answer_single_cve_and_bare_cve() -> None:
    answer = document("nvd/CVE-2022-3602.json")
    cve = answer["vulnerabilities"][0]["cve"]
    for shape in (answer, {"cve": cve}, cve):
        (advisory,) = parse(shape)
        assert (advisory.source, advisory.source_id) == (Source.NVD, "CVE-2022-3602")


def test_a_forced_format_that_does_not_fit_is_refused() -> None:
    with pytest.raises(InvalidAdvisoryError, match="OSV record CVE-2022-3602: 'modified'"):
        parse(document("nvd/CVE-2022-3602.json")["vulnerabilities"][0]["cve"], "osv")
    with pytest.raises(InvalidAdvisoryError, match="must be a CVE id"):
        parse(document("osv/GHSA-j8r2-6x86-q33q.json"), "nvd")


def test_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InvalidAdvisoryError, match=r"broken\.json: not valid JSON"):
        read_advisories([broken])
    with pytest.raises(InvalidAdvisoryError, match="no such file"):
        read_advisories([tmp_path / "missing.json"])
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([document("osv/DSA-2896-1.json"), {"id": "X"}]))
    with pytest.raises(InvalidAdvisoryError, match=r"list\.json\[1\]: OSV record X: 'modified'"):
        read_advisories([listed])


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_member_count_limit(tmp_path: Path) -> None:
    record = json.dumps(document("osv/DSA-2896-1.json")).encode()
    archive = _zip(tmp_path / "many.zip", {f"r{i}.json": record for i in range(4)})
    assert len(read_advisories([archive], limits=ZipLimits(max_members=4))) == 4
    with pytest.raises(InvalidAdvisoryError, match="4 members, more than the 3 allowed"):
        read_advisories([archive], limits=ZipLimits(max_members=3))


def test_zip_bomb_member_and_total_limits(tmp_path: Path) -> None:
    padding = b" " * 200_000  # compresses to almost nothing
    record = json.dumps(document("osv/DSA-2896-1.json")).encode() + padding
    archive = _zip(tmp_path / "bomb.zip", {"a.json": record, "b.json": record})
    assert archive.stat().st_size < 20_000
    with pytest.raises(InvalidAdvisoryError, match=r"a\.json: declares \d+ bytes, over 100000"):
        read_advisories([archive], limits=ZipLimits(max_member_bytes=100_000))
    with pytest.raises(InvalidAdvisoryError, match="inflates to more than 300000 bytes"):
        read_advisories([archive], limits=ZipLimits(max_total_bytes=300_000))


def test_zip_members_that_are_not_json_are_left_alone(tmp_path: Path) -> None:
    record = json.dumps(document("osv/DSA-2896-1.json")).encode()
    archive = _zip(tmp_path / "mixed.zip", {"README.txt": b"hello", "DSA-2896-1.json": record})
    assert [a.source_id for a in read_advisories([archive])] == ["DSA-2896-1"]


def test_check_format() -> None:
    assert check_format("nvd") == "nvd"
    with pytest.raises(InvalidAdvisoryError, match="unknown advisory format 'csaf'"):
        check_format("csaf")


def test_nvd_dir_alone() -> None:
    assert {a.source for a in read_advisories([NVD_DIR], "nvd")} == {Source.NVD}
