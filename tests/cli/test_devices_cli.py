"""``medfleet models`` and the inventory commands of ``medfleet devices``, on both databases."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.R4B.bundle import Bundle as BundleR4B

from tests.cli.conftest import Cli
from tests.cli.fleet_support import register_model

GTIN = "09506000134352"


def hospital_with_icu(cli: Cli, name: str = "St. Anna") -> int:
    """A hospital with site 'Main' (Europe/Berlin) and department 'ICU'; returns its id."""
    hospital: int = cli.json("accounts", "add-hospital", name, "--user", "admin")["id"]
    site = cli.json("accounts", "add-site", str(hospital), "Main", "--timezone", "Europe/Berlin",
                    "--user", "admin")  # fmt: skip
    cli.json("accounts", "add-department", str(site["id"]), "ICU", "--user", "admin")
    return hospital


def test_models_register_revisions_support_list_show(cli: Cli) -> None:
    created = cli.json(
        "models", "register", "IP-100", "--display-name", "Infusion pump", "--gtin",
        "9506000134352", "--image-kind", "firmware", "--hw", "A", "--hw", "B", "--user", "admin",
    )  # fmt: skip
    assert (created["gtin"], created["image_kind"]) == (GTIN, "firmware")
    assert [r["name"] for r in created["hardware_revisions"]] == ["A", "B"]
    added = cli.json("models", "add-revision", "IP-100", "C", "-m", "new board", "--user", "admin")
    assert added["hardware_revisions"][-1] == {"name": "C", "description": "new board"}
    assert (
        cli.json("models", "set-supported", "IP-100", "410", "--user", "admin")[
            "supported_from_version_number"
        ]
        == 410
    )
    shown = cli.json("models", "show", "IP-100", "--user", "admin")
    assert shown["supported_from_version_number"] == 410
    cleared = cli.json("models", "set-supported", "IP-100", "--clear", "--user", "admin")
    assert cleared["supported_from_version_number"] is None
    assert [m["name"] for m in cli.json("models", "list", "--user", "admin")] == ["IP-100"]
    code, out, _err = cli("models", "list", "--user", "admin")
    assert code == 0
    assert "Infusion pump" in out
    code, out, _err = cli("models", "register", "IP-200", "--display-name", "x", "--gtin",
                          "09506000134353", "--user", "admin", "--json")  # fmt: skip
    assert code == 3
    assert "bad check digit (expected 2)" in json.loads(out)["error"]
    assert cli("models", "register", "IP-100", "--display-name", "x", "--user", "admin")[0] == 5
    assert cli("models", "show", "IP-999", "--user", "admin")[0] == 4
    assert cli("models", "set-supported", "IP-100", "--user", "admin")[0] == 2
    shown_text = cli("models", "show", "IP-100", "--user", "admin")[1]
    assert "hardware revisions: A, B, C" in shown_text


def test_register_with_place_update_list_and_history(cli: Cli) -> None:
    register_model(cli, "IP-100", "A", "B")
    hospital = hospital_with_icu(cli)
    registered = cli.json(
        "devices", "register", str(hospital), "--model", "IP-100", "--hw", "B", "--serial",
        "SN-1", "--site", "Main", "--department", "ICU", "--tag", "loaner", "--tag", "ICU pool",
        "--udi", f"(01){GTIN}(10)L7(21)SN-1", "--user", "admin",
    )  # fmt: skip
    assert (registered["site"], registered["department"]) == ("Main", "ICU")
    assert (registered["tags"], registered["udi_lot"]) == (["loaner", "ICU pool"], "L7")
    device_id = registered["device_id"]
    other = cli.json("devices", "register", str(hospital), "--model", "IP-100", "--hw", "A",
                     "--serial", "SN-2", "--test-device", "--user", "admin")  # fmt: skip
    assert other["is_test_device"] is True
    code, _out, err = cli("devices", "register", str(hospital), "--model", "IP-100", "--hw", "Z",
                          "--serial", "SN-3", "--user", "admin")  # fmt: skip
    assert code == 3
    assert "no hardware revision 'Z'" in err
    code, _out, err = cli("devices", "register", str(hospital), "--model", "IP-100", "--hw", "B",
                          "--serial", "SN-3", "--site", "Nowhere", "--user", "admin")  # fmt: skip
    assert code == 4
    assert "no site named 'Nowhere'" in " ".join(err.split())

    def listed(*filters: str) -> list[str]:
        return [d["serial"] for d in cli.json("devices", "list", *filters, "--user", "admin")]

    assert listed() == ["SN-1", "SN-2"]
    assert listed("--test-only") == ["SN-2"]
    assert listed("--hospital", "St. Anna", "--site", "Main") == ["SN-1"]
    assert listed("--model", "IP-200") == []
    assert cli("devices", "list", "--site", "Main", "--user", "admin")[0] == 2
    assert cli("devices", "list", "--hospital", "Nowhere", "--user", "admin")[0] == 4
    code, out, _err = cli("devices", "list", "--user", "admin")
    assert code == 0
    assert "ICU" in out  # the table wraps "Main / ICU" at the test terminal's width

    updated = cli.json("devices", "update", device_id, "--no-department", "--test",
                       "--tag", "spare", "--user", "admin")  # fmt: skip
    assert (updated["site"], updated["department"]) == ("Main", None)
    assert (updated["is_test_device"], updated["tags"]) == (True, ["spare"])
    moved = cli.json("devices", "update", device_id, "--department", "ICU", "--clear-tags",
                     "--no-test", "--user", "admin")  # fmt: skip
    assert (moved["department"], moved["tags"], moved["is_test_device"]) == ("ICU", [], False)
    off = cli.json("devices", "update", device_id, "--no-site", "--user", "admin")
    assert (off["site"], off["department"]) == (None, None)
    code, _out, err = cli("devices", "update", device_id, "--department", "ICU", "--user", "admin")
    assert code == 2
    assert cli("devices", "update", "dev-nope", "--test", "--user", "admin")[0] == 4

    assert cli.json("devices", "history", device_id, "--user", "admin") == []
    assert cli("devices", "history", "dev-nope", "--user", "admin")[0] == 4


def test_import_writes_tokens_to_a_private_file(cli: Cli, tmp_path: Path) -> None:
    register_model(cli, "IP-100", "B")
    hospital_with_icu(cli)
    source = tmp_path / "devices.csv"
    source.write_text(
        "serial,model,hardware_revision,hospital,site,department,test_device,tags\n"
        "I-1,IP-100,B,St. Anna,Main,ICU,yes,pilot;loaner\n"
        "I-2,IP-100,B,St. Anna,,,,\n",
        encoding="utf-8",
    )
    tokens = tmp_path / "tokens.csv"
    imported = cli.json("devices", "import", str(source), "--tokens-out", str(tokens),
                        "--user", "admin")  # fmt: skip
    assert [d["serial"] for d in imported["devices"]] == ["I-1", "I-2"]
    assert all("enrollment_token" not in d for d in imported["devices"])
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    lines = tokens.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "line,device_id,model,serial,org_id,enrollment_token"
    assert [line.split(",")[3] for line in lines[1:]] == ["I-1", "I-2"]
    assert all(line.split(",")[5].startswith("mfe_") for line in lines[1:])
    # the same file again: every row is a duplicate now, nothing imported, no tokens file
    again = tmp_path / "again.csv"
    code, out, _err = cli("devices", "import", str(source), "--tokens-out", str(again),
                          "--user", "admin", "--json")  # fmt: skip
    assert code == 3
    refused = json.loads(out)
    assert [(p["line"], p["column"]) for p in refused["problems"]] == [(2, "serial"), (3, "serial")]
    assert not again.exists()
    # an existing tokens file is never overwritten (and nothing is imported)
    code, _out, err = cli("devices", "import", str(source), "--tokens-out", str(tokens),
                          "--user", "admin")  # fmt: skip
    assert code == 3
    assert "exists" in err
    # tokens in the JSON answer when there is no --tokens-out; refused without either
    more = tmp_path / "more.csv"
    more.write_text("serial,model,hardware_revision,hospital\nI-3,IP-100,B,St. Anna\n")
    assert cli("devices", "import", str(more), "--user", "admin")[0] == 2
    shown = cli.json("devices", "import", str(more), "--user", "admin")
    assert shown["devices"][0]["enrollment_token"].startswith("mfe_")
    assert shown["tokens_out"] is None


def test_export_fhir(cli: Cli, tmp_path: Path) -> None:
    register_model(cli, "IP-100", "B")
    hospital = hospital_with_icu(cli)
    other = hospital_with_icu(cli, "Bayview")
    for org, serial in ((hospital, "E-1"), (other, "E-2")):
        cli.json("devices", "register", str(org), "--model", "IP-100", "--hw", "B",
                 "--serial", serial, "--site", "Main", "--user", "admin")  # fmt: skip
    code, out, _err = cli("devices", "export-fhir", "--fhir-version", "R4B", "--user", "admin")
    assert code == 0
    bundle = BundleR4B.model_validate(json.loads(out))
    assert sorted(e.resource.serialNumber for e in bundle.entry or []) == ["E-1", "E-2"]
    target = tmp_path / "bayview.json"
    written = cli.json("devices", "export-fhir", "--hospital", "Bayview", "--out", str(target),
                       "--user", "admin")  # fmt: skip
    assert written == {"out": str(target), "fhir_version": "R5", "devices": 1}
    r5 = BundleR5.model_validate(json.loads(target.read_text()))
    assert [e.resource.serialNumber for e in r5.entry or []] == ["E-2"]
    assert cli("devices", "export-fhir", "--fhir-version", "R6", "--user", "admin")[0] == 3
    assert cli("devices", "export-fhir", "--hospital", "Nowhere", "--user", "admin")[0] == 4
