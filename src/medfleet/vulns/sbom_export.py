"""A release's SBOM as CycloneDX 1.6 JSON, built with cyclonedx-python-lib.

The document describes the release (``metadata.component``: a firmware component named by the
device model, versioned by the release version) and lists every kept component flat, each a
direct dependency of the release. It carries bom-refs, purls, CPEs, suppliers and hashes as
imported, and the FDA support data both as ``medfleet:support-level`` /
``medfleet:end-of-support`` and as ``cdx:fda:level-of-support`` / ``cdx:fda:end-of-support-date``
(see ``sbom_model``), so re-importing an export yields the same components. Hashes in
algorithms CycloneDX does not know (SPDX's SHA224, MD2, MD4, MD6, ADLER32) are left out. The
output is deterministic: serial number and timestamp are given by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component as CdxComponent
from cyclonedx.model.component import ComponentType
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL

from medfleet.vulns.sbom_model import (
    END_OF_SUPPORT_PROPERTY,
    FDA_END_OF_SUPPORT_PROPERTY,
    FDA_LEVEL_PROPERTY,
    FDA_WORDING,
    SUPPORT_LEVEL_PROPERTY,
    Component,
)

EXPORT_VERSION = "1.6"
MEDIA_TYPE = "application/vnd.cyclonedx+json"
_KNOWN_ALGS = frozenset(alg.value for alg in HashAlgorithm)


def release_ref(model: str, version: str) -> str:
    """The bom-ref of the release in its exported SBOM."""
    return f"urn:medfleet:release:{model}:{version}"


def export_cyclonedx(
    model: str,
    version: str,
    components: Iterable[Component],
    *,
    serial_number: UUID,
    timestamp: datetime,
) -> str:
    """The CycloneDX 1.6 JSON text of a release's SBOM (see the module docstring)."""
    release = CdxComponent(
        name=model,
        version=version,
        type=ComponentType.FIRMWARE,
        bom_ref=release_ref(model, version),
    )
    bom = Bom(
        serial_number=serial_number,
        metadata=BomMetaData(component=release, timestamp=timestamp),
    )
    exported = [_component(component) for component in components]
    bom.components.update(exported)
    bom.register_dependency(release, exported)
    outputter = make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_6)
    return outputter.output_as_string(indent=2)


def _component(component: Component) -> CdxComponent:
    properties = []
    if component.support_level is not None:
        properties += [
            Property(name=SUPPORT_LEVEL_PROPERTY, value=component.support_level.value),
            Property(name=FDA_LEVEL_PROPERTY, value=FDA_WORDING[component.support_level]),
        ]
    if component.end_of_support is not None:
        day = component.end_of_support.isoformat()
        properties += [
            Property(name=END_OF_SUPPORT_PROPERTY, value=day),
            Property(name=FDA_END_OF_SUPPORT_PROPERTY, value=day),
        ]
    return CdxComponent(
        bom_ref=component.bom_ref,
        type=ComponentType(component.kind),
        name=component.name,
        version=component.version,
        purl=PackageURL.from_string(component.purl) if component.purl else None,
        cpe=component.cpe,
        supplier=OrganizationalEntity(name=component.supplier) if component.supplier else None,
        hashes=[
            HashType(alg=HashAlgorithm(h.alg), content=h.content)
            for h in component.hashes
            if h.alg in _KNOWN_ALGS
        ],
        properties=properties,
    )
