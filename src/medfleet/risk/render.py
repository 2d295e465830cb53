"""Renderings of the risk file: JSON-ready documents, and the risk management table as text or
HTML. Every situation is shown with its risk before and after control, named by the matrix,
and whether the residual risk is acceptable; every control with its §7.1 priority."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from medfleet.risk.items import HazardousSituation, RiskControl, item_dict
from medfleet.risk.matrix import RiskMatrix
from medfleet.risk.riskfile import RiskFile

if TYPE_CHECKING:
    from medfleet.risk.service import ItemRecord


def _risk(matrix: RiskMatrix, severity: int, probability: int) -> dict[str, Any]:
    return {
        "severity": severity,
        "severity_name": matrix.severity_name(severity),
        "probability": probability,
        "probability_name": matrix.probability_name(probability),
        "acceptability": matrix.acceptability(severity, probability).value,
    }


def record_dict(record: ItemRecord, file: RiskFile, matrix: RiskMatrix) -> dict[str, Any]:
    """One current item as JSON: its content, version, origin and derived risk facts."""
    item = record.item
    document = {
        **item_dict(item),
        "version": record.version,
        "change_request_id": record.change_request_id,
        "created_by": record.created_by,
        "created_at": record.created_at.isoformat(),
    }
    if isinstance(item, HazardousSituation):
        document["controls"] = [control.key for control in file.controls_of(item.key)]
        document["initial_risk"] = _risk(matrix, item.severity, item.probability)
        document["residual_risk"] = _risk(matrix, *file.residual(item))
        document["significant_harm"] = matrix.significant(item.severity)
    elif isinstance(item, RiskControl):
        document["priority"] = item.kind.value
    else:
        document["situations"] = [s.key for s in file.situations_of(item.key)]
    return document


def file_document(records: Sequence[ItemRecord], matrix: RiskMatrix) -> dict[str, Any]:
    """The whole file: matrix, items (``record_dict``) and its ``problems``."""
    file = RiskFile.of(record.item for record in records)
    return {
        "matrix": matrix.as_dict(),
        "items": [record_dict(record, file, matrix) for record in records],
        "problems": file.problems(matrix),
    }


def _risk_text(risk: dict[str, Any]) -> str:
    return (
        f"S{risk['severity']} {risk['severity_name']} x P{risk['probability']} "
        f"{risk['probability_name']}: {risk['acceptability']}"
    )


def table_rows(document: dict[str, Any]) -> list[list[str]]:
    """The risk management table of ``file_document``: one row per hazardous situation."""
    by_key = {item["key"]: item for item in document["items"]}
    rows = []
    for item in document["items"]:
        if item["kind"] != "situation":
            continue
        hazard = by_key.get(item["hazard"], {})
        controls = [
            f"{key} {by_key[key]['title']} ({by_key[key]['kind']})"
            for key in item["controls"]
            if key in by_key
        ]
        rows.append(
            [
                f"{item['hazard']} {hazard.get('title', '?')}",
                f"{item['key']} {item['sequence']}",
                item["harm"],
                _risk_text(item["initial_risk"]),
                "; ".join(controls) or "-",
                _risk_text(item["residual_risk"]),
                item["benefit_risk"] or "-",
            ]
        )
    return rows


TABLE_HEADERS = (
    "Hazard",
    "Hazardous situation",
    "Harm",
    "Risk before control",
    "Risk controls",
    "Residual risk",
    "Benefit-risk",
)


def render_html(document: dict[str, Any], title: str = "Risk management table") -> str:
    """A self-contained HTML page of the risk management table and open problems (escaped)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in TABLE_HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
        for row in table_rows(document)
    )
    problems = "".join(f"<li>{escape(p)}</li>" for p in document["problems"]) or "<li>none</li>"
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<style>table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px;"
        "vertical-align:top}</style></head><body>"
        f"<h1>{escape(title)}</h1><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        f"</table><h2>Open problems</h2><ul>{problems}</ul></body></html>\n"
    )
