"""The image an install attempt targets, as the verified metadata describes it. Pure.

``Target`` validates itself on construction, so an attempt never starts on a target whose
length or hashes could not be checked; ``medfleet.agent.install_state`` re-exports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from medfleet.agent.errors import InvalidTargetError

_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHA512 = re.compile(r"[0-9a-f]{128}")


@dataclass(frozen=True, slots=True)
class Target:
    """The image to install, as the verified metadata describes it."""

    path: str
    length: int
    sha256: str
    sha512: str
    version: str
    version_number: int

    def __post_init__(self) -> None:
        if not self.path or not self.version:
            raise InvalidTargetError("target path and version must not be empty")
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 0:
            raise InvalidTargetError(f"target length {self.length!r} is not a size")
        if isinstance(self.version_number, bool) or not isinstance(self.version_number, int):
            raise InvalidTargetError("target version_number must be an integer")
        if not _SHA256.fullmatch(self.sha256) or not _SHA512.fullmatch(self.sha512):
            raise InvalidTargetError("target hashes must be lower-case hex sha256 and sha512")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "path": self.path,
            "length": self.length,
            "sha256": self.sha256,
            "sha512": self.sha512,
            "version": self.version,
            "version_number": self.version_number,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Target:
        """Parse ``to_dict`` output.

        Raises:
            InvalidTargetError: a field is missing or invalid.
        """
        if not isinstance(data, dict):
            raise InvalidTargetError("target is not an object")
        try:
            return cls(
                path=data["path"],
                length=data["length"],
                sha256=data["sha256"],
                sha512=data["sha512"],
                version=data["version"],
                version_number=data["version_number"],
            )
        except (KeyError, TypeError) as exc:
            raise InvalidTargetError(f"target field missing or mistyped: {exc!r}") from exc
