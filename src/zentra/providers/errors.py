"""Refusals of inbound callbacks, in the tree of :mod:`zentra.kit.errors`::

AuthenticationFailed
└── InvalidSignature       the provider's signature is missing, stale or wrong (recorded)
InvalidInput
└── MalformedCallback      a verified body that does not describe a usable event
"""

from __future__ import annotations

from zentra.kit.errors import AuthenticationFailed, InvalidInput


class InvalidSignature(AuthenticationFailed):
    """The callback is not authenticated by its provider's signature.

    A recorded refusal: the security-log entry written before raising is committed.
    """

    code = "invalid_signature"
    title = "Invalid callback signature"
    keeps_changes = True


class MalformedCallback(InvalidInput):
    """A correctly signed callback whose body is not a usable event (not JSON, no event id,
    type or amount, a float or out-of-range amount, an unknown currency)."""

    code = "malformed_callback"
    title = "Malformed callback"
