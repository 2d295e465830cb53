"""The python-tuf and securesystemslib names the signing code uses, imported in one place.

Both libraries re-export these names from private modules without ``__all__``, which
``mypy --strict`` (no implicit re-export) reports at every import site. Importing them here
once keeps the rest of the package clean; the types are the libraries' own.
"""

from __future__ import annotations

from securesystemslib.signer import (  # type: ignore[attr-defined]
    CryptoSigner,
    Key,
    Signer,
    SSlibKey,
)
from tuf.api.metadata import (  # type: ignore[attr-defined]
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

__all__ = [
    "CryptoSigner",
    "DelegatedRole",
    "Delegations",
    "Key",
    "MetaFile",
    "Metadata",
    "Root",
    "SSlibKey",
    "Signer",
    "Snapshot",
    "TargetFile",
    "Targets",
    "Timestamp",
]
