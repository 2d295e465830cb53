"""What a VEX document's references name among the importer's releases: statement subjects.

A reference is one of:

- a **BOM-link** ``urn:cdx:<serial>/<version>[#<bom-ref>]`` to a release's CycloneDX SBOM: the
  component with that bom-ref, or the whole release without a fragment (the BOM version is
  not kept, so any version matches);
- a **purl**: the release it names by medfleet's release purl (``release_purl``), else every
  component whose purl has the same package key and, when the reference has a version, the same
  version (qualifiers and subpath are ignored);
- a **bom-ref** (CycloneDX only): within the release the document's metadata component names,
  that component, or the whole release when it is the metadata component's own bom-ref.

A scope (release ids) restricts the matches, for documents that name their release. Only the
importer's organization's releases are ever considered.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import quote, unquote

from packageurl import PackageURL
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from medfleet.releases.tables import Release
from medfleet.vulns.errors import InvalidIdentifierError
from medfleet.vulns.keys import parse_purl
from medfleet.vulns.tables import Sbom, SbomComponent
from medfleet.vulns.vex_service import component_ref_of

BOM_LINK_PREFIX = "urn:cdx:"
UUID_SERIAL_PREFIX = "urn:uuid:"


@dataclass(frozen=True, slots=True)
class Target:
    """One statement subject: a release, and a component reference (None: the whole release)."""

    release_pk: int
    component_ref: str | None


@dataclass(frozen=True, slots=True)
class Resolved:
    """The targets a reference names, or why it names none."""

    targets: tuple[Target, ...]
    reason: str = ""


def release_purl(model: str, version: str) -> str:
    """The purl medfleet names a release by in VEX documents: ``pkg:generic/<model>@<version>``."""
    return PackageURL(type="generic", name=model, version=version).to_string()


def bom_link(serial_number: str | None, bom_ref: str | None = None) -> str | None:
    """A CycloneDX BOM-link to an SBOM (and a component of it); None without a UUID serial."""
    if not serial_number or not serial_number.startswith(UUID_SERIAL_PREFIX):
        return None
    link = f"{BOM_LINK_PREFIX}{serial_number[len(UUID_SERIAL_PREFIX) :]}/1"
    return link if bom_ref is None else f"{link}#{quote(bom_ref, safe='')}"


class TargetResolver:
    """Resolves references against one organization's releases and SBOMs (cached per import)."""

    def __init__(self, session: Session, org_id: int) -> None:
        self._session = session
        self._org_id = org_id
        self._releases: dict[int, Release] = {}

    def release(self, release_pk: int) -> Release:
        """A release already seen by this resolver."""
        return self._releases[release_pk]

    def release_named(self, model: str | None, version: str | None) -> Release | None:
        """The organization's release ``model`` ``version``, if there is one."""
        if not model or not version:
            return None
        found = self._session.scalar(
            select(Release).where(
                Release.org_id == self._org_id,
                Release.model == model,
                Release.version == version,
            )
        )
        if found is not None:
            self._releases[found.id] = found
        return found

    def release_of_purl(self, purl: str) -> Release | None:
        """The release a purl names by ``release_purl``, if any."""
        try:
            parsed = PackageURL.from_string(purl.strip())
        except ValueError:
            return None
        if parsed.type != "generic" or parsed.namespace:
            return None
        return self.release_named(parsed.name, parsed.version)

    def resolve(
        self,
        ref: str,
        *,
        scope: Collection[int] | None = None,
        context: Release | None = None,
        context_ref: str | None = None,
    ) -> Resolved:
        """The targets ``ref`` names (see the module docstring), within ``scope`` if given.

        ``context`` is the release the document names and ``context_ref`` the bom-ref it names it
        by; only plain bom-refs need them.
        """
        text = ref.strip()
        if text.startswith(BOM_LINK_PREFIX):
            resolved = self._bom_link(text)
        elif text.startswith("pkg:"):
            resolved = self._purl(text, context)
        elif context is None:
            return Resolved(
                (),
                f"bom-ref {text!r} names nothing: the document's metadata component is none of "
                "your releases (use a purl or a BOM-link)",
            )
        elif text == context_ref:
            resolved = Resolved((Target(context.id, None),))
        else:
            resolved = self._components(
                select(SbomComponent).where(
                    SbomComponent.release_pk == context.id, SbomComponent.bom_ref == text
                ),
                f"{context.model} {context.version} has no component with bom-ref {text!r}",
            )
        if scope is None or not resolved.targets:
            return resolved
        kept = tuple(target for target in resolved.targets if target.release_pk in scope)
        return Resolved(kept, "" if kept else f"{text!r} names nothing in the release in question")

    def _bom_link(self, link: str) -> Resolved:
        body, _, fragment = link[len(BOM_LINK_PREFIX) :].partition("#")
        serial = body.split("/", 1)[0]
        sbom = self._session.scalar(
            select(Sbom)
            .join(Release, Release.id == Sbom.release_pk)
            .where(
                Release.org_id == self._org_id,
                Sbom.serial_number.in_([UUID_SERIAL_PREFIX + serial, serial]),
            )
        )
        if sbom is None:
            return Resolved((), f"BOM-link {link!r}: none of your SBOMs has serial {serial}")
        release = self._session.get_one(Release, sbom.release_pk)
        self._releases[release.id] = release
        if not fragment:
            return Resolved((Target(release.id, None),))
        bom_ref = unquote(fragment)
        return self._components(
            select(SbomComponent).where(
                SbomComponent.sbom_id == sbom.id, SbomComponent.bom_ref == bom_ref
            ),
            f"BOM-link {link!r}: the SBOM has no component with bom-ref {bom_ref!r}",
        )

    def _purl(self, purl: str, context: Release | None) -> Resolved:
        release = self.release_of_purl(purl)
        if release is not None:
            return Resolved((Target(release.id, None),))
        try:
            wanted = parse_purl(purl)
        except InvalidIdentifierError as exc:
            return Resolved((), str(exc))
        query = (
            select(SbomComponent)
            .join(Release, Release.id == SbomComponent.release_pk)
            .where(Release.org_id == self._org_id, SbomComponent.package_key == wanted.key)
        )
        if context is not None:
            query = query.where(SbomComponent.release_pk == context.id)
        resolved = self._components(query, "")
        if wanted.version is not None:
            kept = tuple(
                target
                for target in resolved.targets
                if target.component_ref is not None
                and _version_of(target.component_ref) == wanted.version
            )
            resolved = Resolved(kept)
        if resolved.targets:
            return resolved
        where = f"{context.model} {context.version}" if context else "any of your releases"
        return Resolved((), f"no component with purl {purl!r} in {where}")

    def _components(self, query: Select[SbomComponent], reason: str) -> Resolved:
        components = self._session.scalars(query.order_by(SbomComponent.id))
        targets: dict[Target, None] = {}
        for component in components:
            if component.release_pk not in self._releases:
                self._releases[component.release_pk] = self._session.get_one(
                    Release, component.release_pk
                )
            targets[Target(component.release_pk, component_ref_of(component))] = None
        return Resolved(tuple(targets), "" if targets else reason)


def _version_of(component_ref: str) -> str | None:
    if not component_ref.startswith("pkg:"):
        return None
    try:
        return parse_purl(component_ref).version
    except InvalidIdentifierError:
        return None
