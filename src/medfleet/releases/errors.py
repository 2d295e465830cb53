"""The releases domain's errors; ``api/`` and ``cli/`` map them to HTTP and exit codes."""

from __future__ import annotations

from medfleet.errors import Conflict, InvalidInput, MedfleetError, NotFound, Unavailable


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
