"""One tree of domain errors. Domain code raises these; only ``api/problems.py`` knows HTTP.

::

    ZentraError                      anything Zentra refuses, with a stable ``code``
    ├── InvalidInput                 the request or file content is wrong
    │   ├── InvalidAmount            not an integer minor-unit amount, or too many decimals
    │   ├── UnknownCurrency          not an ISO 4217 currency with a minor unit
    │   ├── UnreadableFile           a file that cannot be parsed at all (still retained)
    │   └── IdempotencyKeyReused     same Idempotency-Key, different request
    ├── AuthenticationFailed         no key, or a key that is unknown or revoked
    ├── PermissionDenied             the key's roles do not allow the action
    ├── NotFound                     no such resource *in this tenant*
    └── Conflict                     the resource's state forbids the action
        ├── InvalidTransition        a state machine step that is not allowed
        ├── CloseoutBlocked          a run cannot be sealed yet (lists the unmet requirements)
        ├── IdempotencyKeyInFlight   the first request with this key is still running
        └── DuplicateResource        a natural key that already exists with other content

Each error carries a human ``detail`` and optional ``extensions`` (extra problem members such as
``unmet_requirements`` or ``field``). Errors never carry HTTP status codes.

An error class with ``keeps_changes = True`` is a *recorded refusal*: what the operation wrote
before refusing (an unreadable file retained as evidence) is committed all the same.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ZentraError(Exception):
    """Base of every error Zentra raises on purpose."""

    code: ClassVar[str] = "zentra_error"
    title: ClassVar[str] = "Request refused"
    keeps_changes: ClassVar[bool] = False

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidInput(ZentraError):
    """The request, or the content of an uploaded file, is not acceptable."""

    code = "invalid_input"
    title = "Invalid input"


class InvalidAmount(InvalidInput):
    """An amount that is not an integer in minor units of its currency."""

    code = "invalid_amount"
    title = "Invalid amount"


class UnknownCurrency(InvalidInput):
    """A currency code that is not an ISO 4217 currency with a minor unit."""

    code = "unknown_currency"
    title = "Unknown currency"


class UnreadableFile(InvalidInput):
    """A file that cannot be read at all. It is retained as evidence all the same."""

    code = "unreadable_file"
    title = "Unreadable file"
    keeps_changes = True


class IdempotencyKeyReused(InvalidInput):
    """An Idempotency-Key sent again with a different request."""

    code = "idempotency_key_reused"
    title = "Idempotency-Key reused with a different request"


class AuthenticationFailed(ZentraError):
    """No credentials, or credentials that do not name a live API key."""

    code = "authentication_failed"
    title = "Authentication failed"


class PermissionDenied(ZentraError):
    """The caller's roles do not allow this action in its own tenant."""

    code = "permission_denied"
    title = "Permission denied"


class NotFound(ZentraError):
    """No such resource in the caller's tenant (another tenant's resource is not found either)."""

    code = "not_found"
    title = "Not found"


class Conflict(ZentraError):
    """The resource's current state forbids the action."""

    code = "conflict"
    title = "Conflict"


class InvalidTransition(Conflict):
    """A state machine step that is not allowed from the current state."""

    code = "invalid_transition"
    title = "Transition not allowed"


class CloseoutBlocked(Conflict):
    """A run that cannot be sealed yet; ``unmet_requirements`` lists why."""

    code = "closeout_blocked"
    title = "Closeout requirements not met"


class IdempotencyKeyInFlight(Conflict):
    """The first request with this Idempotency-Key has not finished yet."""

    code = "idempotency_key_in_flight"
    title = "Request with this Idempotency-Key is in flight"


class DuplicateResource(Conflict):
    """A natural key (movement id, file id) that already exists with different content."""

    code = "duplicate_resource"
    title = "Resource exists with different content"
