"""``medfleet vulns sbom``: import from a file or the attached SBOM, show, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medfleet.cli.output import EXIT_DENIED, EXIT_INVALID, EXIT_NOT_FOUND
from medfleet.releases.model import ReleaseState
from medfleet.vulns.sbom_read import read_document
from tests.user_cli import run_as_user
from tests.vulns.support_sbom import (
    FIXTURES,
    NAMES,
    SbomEnv,
    create_release,
    move_to,
    row_counts,
    sbom_env,
)

__all__ = ["sbom_env"]
SPDX = FIXTURES / "ip100-spdx-2.3.json"


def run(env: SbomEnv, *args: str) -> tuple[int, Any, str]:
    """Run ``medfleet vulns sbom ...``; the parsed JSON output (with --json, on success)."""
    return run_as_user(env.rt.settings, "vulns", "sbom", *args, columns=240)


def test_import_show_and_export(sbom_env: SbomEnv, tmp_path: Path) -> None:
    create_release(sbom_env)
    code, summary, _ = run(sbom_env, "import", "IP-100", "4.2.0", str(SPDX), "-u", "eng", "--json")
    assert code == 0
    assert (summary["format"], summary["spec_version"]) == ("spdx", "SPDX-2.3")
    assert (summary["components"], summary["unmatchable"]) == (6, 1)

    code, _, out = run(sbom_env, "import", "IP-100", "4.2.0", "-u", "qa")  # the attached one
    assert code == 0, out
    assert "imported SPDX-2.3 SBOM of IP-100 4.2.0: 6 components, 1 unmatchable" in out
    assert "replaced 6 components" in out

    code, shown, _ = run(sbom_env, "show", "IP-100", "4.2.0", "-u", "aud", "--json")
    assert code == 0
    assert [c["name"] for c in shown["components"]] == NAMES
    assert shown["sbom"]["unmatchable"] == 1
    code, shown, _ = run(
        sbom_env, "show", "IP-100", "4.2.0", "--search", "zlib", "-u", "aud", "--json"
    )
    assert [c["bom_ref"] for c in shown["components"]] == ["SPDXRef-zlib"]
    code, _, out = run(sbom_env, "show", "IP-100", "4.2.0", "-u", "eng")
    assert code == 0
    assert "busybox" in out
    assert "- (unmatchable)" in out

    code, _, out = run(sbom_env, "export", "IP-100", "4.2.0", "-u", "eng")
    assert code == 0
    assert json.loads(out)["specVersion"] == "1.6"
    target = tmp_path / "ip100.cdx.json"
    code, _, out = run(sbom_env, "export", "IP-100", "4.2.0", "-o", str(target), "-u", "eng")
    assert code == 0, out
    assert len(read_document(target.read_bytes()).components) == 6


def test_refusals_and_their_exit_codes(sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    bad = FIXTURES / "invalid-cyclonedx-bad-purl.json"
    code, _, out = run(sbom_env, "import", "IP-100", "4.2.0", str(bad), "-u", "eng", "--json")
    assert code == EXIT_INVALID
    assert json.loads(out)["problems"][0]["where"] == "components[1].purl"
    code, _, out = run(sbom_env, "import", "IP-100", "4.2.0", str(SPDX), "-u", "biomed.a")
    assert code == EXIT_DENIED, out
    code, _, out = run(sbom_env, "show", "IP-100", "4.2.0", "-u", "biomed.a")
    assert code == EXIT_NOT_FOUND, out  # a draft
    code, _, out = run(sbom_env, "import", "IP-100", "4.2.0", "-u", "eng")
    assert code == EXIT_NOT_FOUND
    assert "no attached SBOM" in out
    assert row_counts(sbom_env) == {"sboms": 0, "components": 0}


def test_a_hospital_reads_a_released_sbom(sbom_env: SbomEnv) -> None:
    create_release(sbom_env)
    assert run(sbom_env, "import", "IP-100", "4.2.0", str(SPDX), "-u", "eng")[0] == 0
    move_to(sbom_env, "4.2.0", ReleaseState.RELEASED)
    code, shown, _ = run(sbom_env, "show", "IP-100", "4.2.0", "-u", "biomed.a", "--json")
    assert code == 0
    assert shown["sbom"]["components"] == 6
