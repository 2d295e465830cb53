"""NVD CVE records (CVE API 2.0, ``vulnerabilities[].cve``) read into ``ParsedAdvisory``. Pure.

What is kept:

- ``id`` (a CVE id) is required. ``vulnStatus`` ``Rejected`` means withdrawn (at
  ``lastModified``). The summary is the English description.
- Severity, score and vector come from ``metrics.cvssMetricV31``, else ``cvssMetricV30``, else
  ``cvssMetricV2``, preferring NVD's own (``type: Primary``) entry of the chosen version.
- ``configurations[].nodes[].cpeMatch[]`` entries with ``vulnerable: true`` become affected
  packages keyed by CPE (``openssl:openssl``), one per CPE key. A criteria with a concrete
  version (``cpe:2.3:a:openssl:openssl:1.0.1f:…``) lists that version; with a concrete update
  field too (``1.0.2:beta1``) the listed version is ``1.0.2-beta1``, so that it never stands for
  the final release. A criteria with version ``*`` or ``-`` and bounds becomes one range:
  ``versionStartIncluding`` → ``introduced``, ``versionStartExcluding`` → ``introduced_after``
  (medfleet's extension), none → ``introduced: "0"``; ``versionEndExcluding`` → ``fixed``,
  ``versionEndIncluding`` → ``last_affected``. A wildcard without bounds means every version
  (``introduced: "0"``), as NVD states it. Platform conditions of ``AND`` configurations
  (``vulnerable: false`` entries) and negated nodes are not modelled: matching is on the
  vulnerable product alone, which errs towards reporting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from medfleet.vulns.advisory_model import (
    AffectedPackage,
    ParsedAdvisory,
    Severity,
    Source,
    parse_record,
    parse_timestamp,
    severity_from_name,
)
from medfleet.vulns.keys import parse_cpe

_CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,}$")
_METRICS = ("cvssMetricV31", "cvssMetricV30", "cvssMetricV2")
_BOUNDS = (
    ("versionStartIncluding", "introduced"),
    ("versionStartExcluding", "introduced_after"),
)
_ENDS = (("versionEndExcluding", "fixed"), ("versionEndIncluding", "last_affected"))


def parse_nvd_cve(cve: object, location: str = "", *, packages: bool = True) -> ParsedAdvisory:
    """Read one NVD ``cve`` object (see the module docstring for what is kept);
    ``packages=False`` leaves ``configurations`` unread.

    Raises:
        InvalidAdvisoryError: not an object, no CVE id, a field of the wrong type, a bad
            timestamp or CPE; the message names ``location``.
    """
    return parse_record(
        cve, location, lambda fields: _parse(fields, packages), kind="NVD CVE", named="NVD"
    )


def _parse(cve: Mapping[str, Any], with_packages: bool) -> ParsedAdvisory:
    cve_id = cve.get("id")
    if not isinstance(cve_id, str) or not _CVE_ID.match(cve_id.strip().upper()):
        raise ValueError("'id' is required and must be a CVE id (CVE-YYYY-NNNN)")
    modified = parse_timestamp(cve.get("lastModified"))
    published = parse_timestamp(cve.get("published"))
    rejected = cve.get("vulnStatus") == "Rejected"
    severity, score, vector = _metrics(cve.get("metrics"))
    return ParsedAdvisory(
        source=Source.NVD,
        source_id=cve_id.strip().upper(),
        summary=_description(cve.get("descriptions")),
        severity=severity,
        cvss_score=score,
        cvss_vector=vector,
        published=published,
        modified=modified,
        withdrawn=(modified or published) if rejected else None,
        packages=_packages(cve.get("configurations")) if with_packages else (),
        document=cve,
    )


def _as_list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{what}' must be a list")
    return value


def _description(value: object) -> str:
    entries = [
        d
        for d in _as_list(value, "descriptions")
        if isinstance(d, Mapping) and isinstance(d.get("value"), str)
    ]
    chosen = [d for d in entries if d.get("lang") == "en"] or entries
    return str(chosen[0]["value"]).strip() if chosen else ""


def _metrics(value: object) -> tuple[Severity | None, float | None, str | None]:
    if value is None:
        return None, None, None
    if not isinstance(value, Mapping):
        raise ValueError("'metrics' must be an object")
    for name in _METRICS:
        entries = [
            e for e in _as_list(value.get(name), f"metrics.{name}") if isinstance(e, Mapping)
        ]
        if not entries:
            continue
        chosen = next((e for e in entries if e.get("type") == "Primary"), entries[0])
        data = chosen.get("cvssData")
        if not isinstance(data, Mapping):
            raise ValueError(f"metrics.{name} needs 'cvssData'")
        score = data.get("baseScore")
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise ValueError(f"metrics.{name}.cvssData.baseScore must be a number")
        vector = data.get("vectorString")
        # v3 keeps baseSeverity inside cvssData, v2 beside it
        severity = severity_from_name(data.get("baseSeverity") or chosen.get("baseSeverity"))
        return severity, float(score), vector if isinstance(vector, str) else None
    return None, None, None


def _packages(configurations: object) -> tuple[AffectedPackage, ...]:
    by_key: dict[str, tuple[list[dict[str, Any]], list[str]]] = {}
    for configuration in _as_list(configurations, "configurations"):
        if not isinstance(configuration, Mapping):
            raise ValueError("'configurations' entries must be objects")
        for node in _as_list(configuration.get("nodes"), "configurations[].nodes"):
            if not isinstance(node, Mapping):
                raise ValueError("configuration nodes must be objects")
            if node.get("negate") is True:
                continue
            for match in _as_list(node.get("cpeMatch"), "nodes[].cpeMatch"):
                if not isinstance(match, Mapping):
                    raise ValueError("cpeMatch entries must be objects")
                if match.get("vulnerable") is True:
                    _add_match(match, by_key)
    return tuple(
        AffectedPackage(None, key, None, tuple(ranges), tuple(dict.fromkeys(versions)))
        for key, (ranges, versions) in by_key.items()
    )


def _add_match(
    match: Mapping[str, Any], by_key: dict[str, tuple[list[dict[str, Any]], list[str]]]
) -> None:
    criteria = match.get("criteria")
    if not isinstance(criteria, str):
        raise ValueError("cpeMatch entries need a 'criteria' CPE")
    cpe = parse_cpe(criteria)
    ranges, versions = by_key.setdefault(cpe.key, ([], []))
    bounds = {name: match.get(name) for name, _ in (*_BOUNDS, *_ENDS) if match.get(name)}
    for name, bound in bounds.items():
        if not isinstance(bound, str):
            raise ValueError(f"cpeMatch {name} must be a string")
    if bounds:
        events = [{kind: bounds[name]} for name, kind in _BOUNDS if name in bounds]
        events = events or [{"introduced": "0"}]
        events += [{kind: bounds[name]} for name, kind in _ENDS if name in bounds]
        ranges.append({"type": "ECOSYSTEM", "events": events})
    elif cpe.version is not None:
        versions.append(f"{cpe.version}-{cpe.update}" if cpe.update else cpe.version)
    else:
        ranges.append({"type": "ECOSYSTEM", "events": [{"introduced": "0"}]})
