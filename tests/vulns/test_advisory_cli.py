"""``medfleet vulns advisories import|list`` and ``medfleet vulns show``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medfleet.cli.output import EXIT_DENIED, EXIT_INVALID, EXIT_NOT_FOUND
from medfleet.runtime import Runtime
from tests.builders import World
from tests.user_cli import run_as_user
from tests.vulns.support_advisory import FIXTURES, NVD_DIR, osv_zip, world

__all__ = ["world"]


def run(runtime: Runtime, *args: str) -> tuple[int, Any, str]:
    return run_as_user(runtime.settings, "vulns", *args)


def test_import_twice_list_and_show(runtime: Runtime, world: World, tmp_path: Path) -> None:
    del world
    code, summary, out = run(
        runtime, "advisories", "import", str(osv_zip(tmp_path)), str(NVD_DIR),
        "--user", "eng", "--json",
    )  # fmt: skip
    assert code == 0, out
    assert (summary["created"], summary["withdrawn"], summary["merged"]) == (10, 2, 0)
    code, again, _ = run(runtime, "advisories", "import", str(FIXTURES), "--user", "qa", "--json")
    assert (code, again["created"], again["unchanged"]) == (0, 0, 10)
    code, _, text = run(runtime, "advisories", "import", str(FIXTURES), "--user", "eng")
    assert code == 0
    assert "10 records: 0 created, 0 updated, 10 unchanged" in text

    code, listed, _ = run(runtime, "advisories", "list", "--user", "aud", "--json")
    ids = {(a["source"], a["source_id"]) for a in listed["advisories"]}
    assert ("osv", "DSA-2896-1") in ids
    assert ("osv", "GHSA-57m8-f3v5-hm5m") not in ids  # withdrawn
    code, everything, _ = run(
        runtime, "advisories", "list", "--include-withdrawn", "--user", "aud", "--json"
    )
    assert len(everything["advisories"]) == 10
    dsa = next(a for a in listed["advisories"] if a["source_id"] == "DSA-2896-1")
    assert (dsa["vulnerability"], dsa["packages"]) == ("CVE-2014-0160", 1)

    code, shown, _ = run(runtime, "show", "dsa-2896-1", "--user", "biomed.a", "--json")
    assert code == 0
    assert shown["key"] == "CVE-2014-0160"
    assert shown["aliases"] == ["CVE-2014-0160", "DSA-2896-1"]
    assert (shown["severity"], shown["cvss_score"], shown["withdrawn"]) == ("high", 7.5, False)
    sources = {(a["source"], a["source_id"]): a for a in shown["advisories"]}
    openssl = sources[("osv", "CVE-2014-0160")]["packages"]
    assert openssl == [
        {
            "package_key": "pkg:generic/openssl",
            "cpe_key": None,
            "ecosystem": None,
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "1.0.1"}, {"fixed": "1.0.1g"}]}
            ],
            "versions": [],
        }
    ]
    code, _, text = run(runtime, "show", "CVE-2022-3602", "--user", "eng")
    assert code == 0
    assert "cpe openssl:openssl: introduced 3.0.0, fixed 3.0.7" in text
    assert "pkg:generic/openssl: introduced 3.0.0, fixed 3.0.7 versions 3.0.0" in text


def test_refusals_and_errors(runtime: Runtime, world: World, tmp_path: Path) -> None:
    del world
    code, _, out = run(runtime, "advisories", "import", str(NVD_DIR), "--user", "biomed.a")
    assert code == EXIT_DENIED, out
    broken = tmp_path / "broken.json"
    broken.write_text('{"id": "GHSA-xxxx"}')
    code, _, out = run(runtime, "advisories", "import", str(broken), "--user", "eng")
    assert code == EXIT_INVALID
    assert "'modified' is required" in out
    code, _, _ = run(
        runtime, "advisories", "import", str(NVD_DIR), "--format", "csaf", "--user", "eng"
    )
    assert code == EXIT_INVALID
    code, _, _ = run(runtime, "show", "CVE-1999-0001", "--user", "eng")
    assert code == EXIT_NOT_FOUND
    code, _, listed = run(runtime, "advisories", "list", "--user", "eng", "--json")
    assert code == 0
    assert json.loads(listed) == {"advisories": []}
