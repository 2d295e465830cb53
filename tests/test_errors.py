"""Every concrete error maps to the category its API status and CLI exit code come from."""

from __future__ import annotations

import pytest

from medfleet.accounts import errors as accounts_errors
from medfleet.changes import errors as changes_errors
from medfleet.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MedfleetError,
    NotFound,
    Unauthenticated,
    category_of,
)


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (accounts_errors.InvalidInputError("x"), InvalidInput),
        (accounts_errors.NotFoundError("x"), NotFound),
        (accounts_errors.ConflictError("x"), Conflict),
        (accounts_errors.PermissionDeniedError("x"), Forbidden),
        (accounts_errors.AuthenticationError("x"), Unauthenticated),
        (accounts_errors.AccountLockedError("x", "later"), Unauthenticated),
        (accounts_errors.SignatureError("x"), Conflict),
        (accounts_errors.SeparationOfDutiesError("x"), Forbidden),
        (changes_errors.ChangeRequestNotFoundError("x"), NotFound),
        (changes_errors.InvalidChangeRequestError("x"), InvalidInput),
        (changes_errors.ChangeNotAllowedError("x"), Forbidden),
        (MedfleetError("uncategorised"), InvalidInput),
    ],
)
def test_category_of(error: MedfleetError, category: type[MedfleetError]) -> None:
    assert category_of(error) is category
