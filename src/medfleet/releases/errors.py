"""The releases domain's errors; ``api/`` and ``cli/`` map them to HTTP and exit codes."""

from __future__ import annotations

from typing import Any

from medfleet.errors import Conflict, Forbidden, InvalidInput, MedfleetError, NotFound, Unavailable


class ReleasesError(MedfleetError):
    """Base of every releases error."""


class InvalidDigestError(ReleasesError, InvalidInput):
    """A blob name is not a sha256 digest (64 lowercase hex digits); nothing was read."""


class BlobNotFoundError(ReleasesError, NotFound):
    """No blob with this sha256 is in the store."""


class BlobTooLargeError(ReleasesError, InvalidInput):
    """The content is longer than the caller allowed; nothing was stored."""


class BlobCorruptError(ReleasesError, Unavailable):
    """A stored blob no longer hashes to its name: the storage is damaged."""


class DeltaBuildError(ReleasesError, Conflict):
    """A delta cannot be built between these images, or it did not reconstruct the target."""


class ReleaseNotFoundError(ReleasesError, NotFound):
    """No such release record in the caller's organization (or the caller is hospital staff)."""


class InvalidReleaseError(ReleasesError, InvalidInput):
    """A field of a release record is not acceptable; nothing was changed."""


class ReleaseNotAllowedError(ReleasesError, Forbidden):
    """The caller's role may not do this to release records."""


class ReleaseStateError(ReleasesError, Conflict):
    """The release's state does not allow this (an edit outside draft, a skipped step)."""


class DuplicateReleaseError(ReleasesError, Conflict):
    """The model already has a release with this version (or this version number)."""


class VersionOrderError(ReleasesError, Conflict):
    """The version number is not above every released version number of the model."""


class ReleaseNotReadyError(ReleasesError, Conflict):
    """Verification or approval is refused; ``missing`` lists every reason, nothing changed.

    ``blockers`` carries the same items with their stable codes (``{"code", "message"}``).
    """

    def __init__(self, message: str, blockers: list[dict[str, str]]) -> None:
        self.blockers = blockers
        self.missing = [blocker["message"] for blocker in blockers]
        lines = "".join(f"\n  - {item}" for item in self.missing)
        super().__init__(f"{message}:{lines}")

    def problem_members(self) -> dict[str, Any]:
        """Extension members of the HTTP problem and the CLI's JSON: ``missing``, ``blockers``."""
        return {"missing": list(self.missing), "blockers": [dict(b) for b in self.blockers]}


class SigningKeyMissingError(ReleasesError, Conflict):
    """The releaser (or a named holder) has no targets key yet; create it first."""


class ReleaseSigningRefusedError(ReleasesError, Forbidden):
    """The releaser's targets key does not reach the model role's threshold; nothing changed."""
