"""The keys that components and advisories are matched by: a package key and a CPE key. Pure.

A component and an advisory name the same package when their **package keys** are equal: the
purl with its version, qualifiers and subpath dropped, normalised by packageurl-python (type
lower-cased, PyPI names per PEP 503, …), for example ``pkg:deb/debian/openssl``. C components
without a package manager are named by CPE instead; two CPEs name the same product when their
**CPE keys**, ``vendor:product`` lower-cased, are equal (``openssl:openssl``). Both CPE 2.3
formatted strings (``cpe:2.3:a:openssl:openssl:1.0.1f:*:*:*:*:*:*:*``) and CPE 2.2 URIs
(``cpe:/a:openssl:openssl:1.0.1f``) are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packageurl import PackageURL

from medfleet.vulns.errors import InvalidIdentifierError

_CPE23_SPLIT = re.compile(r"(?<!\\):")  # CPE 2.3 escapes a literal colon as "\:"
_ANY = frozenset({"*", "-", ""})
_PEP503_SEPARATORS = re.compile(r"[-_.]+")


@dataclass(frozen=True, slots=True)
class PackageName:
    """A purl read apart: its package key, type and version (None: the purl names none)."""

    key: str
    type: str
    name: str
    version: str | None


@dataclass(frozen=True, slots=True)
class CpeName:
    """A CPE read apart; ``version`` is None when the CPE leaves it open (``*`` or ``-``)."""

    part: str
    vendor: str
    product: str
    version: str | None
    update: str | None

    @property
    def key(self) -> str:
        """``vendor:product``, the CPE key."""
        return f"{self.vendor}:{self.product}"


def parse_purl(purl: str) -> PackageName:
    """Read a purl.

    Raises:
        InvalidIdentifierError: not a valid purl.
    """
    try:
        parsed = PackageURL.from_string(purl.strip())
    except ValueError as exc:
        raise InvalidIdentifierError(f"{purl!r} is not a valid purl: {exc}") from exc
    name = parsed.name
    if parsed.type == "pypi":  # PEP 503: runs of "-", "_" and "." are one "-"
        name = _PEP503_SEPARATORS.sub("-", name).lower()
    key = PackageURL(type=parsed.type, namespace=parsed.namespace, name=name).to_string()
    return PackageName(key=key, type=parsed.type, name=name, version=parsed.version)


def package_key(purl: str) -> str:
    """The package key of a purl (see the module docstring).

    Raises:
        InvalidIdentifierError: not a valid purl.
    """
    return parse_purl(purl).key


def parse_cpe(cpe: str) -> CpeName:
    """Read a CPE 2.3 formatted string or a CPE 2.2 URI.

    Raises:
        InvalidIdentifierError: neither form, or no vendor or product.
    """
    text = cpe.strip()
    if text.startswith("cpe:2.3:"):
        fields = [_unescape(f) for f in _CPE23_SPLIT.split(text[len("cpe:2.3:") :])]
    elif text.startswith("cpe:/"):
        fields = text[len("cpe:/") :].split(":")
    else:
        raise InvalidIdentifierError(f"{cpe!r} is neither a CPE 2.3 name nor a CPE 2.2 URI")
    fields += [""] * (5 - len(fields))
    part, vendor, product, version, update = (f.lower() for f in fields[:5])
    if part not in {"a", "o", "h"} or vendor in _ANY or product in _ANY:
        raise InvalidIdentifierError(f"{cpe!r} needs a part (a, o, h), a vendor and a product")
    return CpeName(
        part=part,
        vendor=vendor,
        product=product,
        version=None if version in _ANY else version,
        update=None if update in _ANY else update,
    )


def cpe_key(cpe: str) -> str:
    """The CPE key (``vendor:product``) of a CPE.

    Raises:
        InvalidIdentifierError: not a readable CPE.
    """
    return parse_cpe(cpe).key


def _unescape(field: str) -> str:
    return re.sub(r"\\(.)", r"\1", field)
