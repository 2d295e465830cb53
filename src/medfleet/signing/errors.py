"""The signing domain's errors; ``api/`` and ``cli/`` map them to HTTP and exit codes.

Every operation that raises one of these has changed nothing on disk: checks run before the
first write, and writes are ordered so that an interrupted operation leaves the last complete
version in place.
"""

from __future__ import annotations

from medfleet.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MedfleetError,
    NotFound,
    Unauthenticated,
    Unavailable,
)


class SigningError(MedfleetError):
    """Base of every signing error."""


class SigningInputError(SigningError, InvalidInput):
    """A value is malformed or not allowed (a model name, a threshold, a file name)."""


class KeyNotFoundError(SigningError, NotFound):
    """No key file for this key id or user; create the key first."""


class KeyUnreadableError(SigningError, Unavailable):
    """A key file exists but cannot be read or is not an Ed25519 key."""


class WrongPasswordError(SigningError, Unauthenticated):
    """The password does not decrypt the key; deliberately says no more than that."""


class KeyExistsError(SigningError, Conflict):
    """A key that must be unique already exists (for example a user's targets key)."""


class RepositoryNotFoundError(SigningError, NotFound):
    """The repository (or the device's director metadata) has not been created yet."""


class RepositoryExistsError(SigningError, Conflict):
    """The repository was already created; creating it again would fork its root."""


class UnknownModelError(SigningError, NotFound):
    """The image repository has no delegated role for this device model."""


class ModelExistsError(SigningError, Conflict):
    """The image repository already delegates to a role for this device model."""


class InsufficientSignaturesError(SigningError, Forbidden):
    """The signers given do not reach the role's threshold; nothing was written."""


class RollbackError(SigningError, Conflict):
    """An image's version number is not above every image already published for its model."""


class TargetConflictError(SigningError, Conflict):
    """A target path is already published with different content or fields."""


class TargetNotListedError(SigningError, Conflict):
    """The director was asked to point at something the image repository does not list
    with the same length, hashes and release."""
