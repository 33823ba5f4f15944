"""Request and response bodies of the providers API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from zentra.models import ProviderConnection

Kind = Literal["stripe", "adyen", "standard_webhooks", "sandbox"]


class ProviderConnectionIn(BaseModel):
    """``POST /providers``: ``signing_secret`` is required for Adyen (its HMAC key, hex)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    kind: Kind
    signing_secret: str | None = Field(default=None, max_length=1000)


class ProviderConnectionOut(BaseModel):
    """A connection as listed: never its secret."""

    id: str
    name: str
    kind: str
    callback_url: str

    @classmethod
    def of(cls, connection: ProviderConnection) -> ProviderConnectionOut:
        return cls(
            id=connection.id,
            name=connection.name,
            kind=connection.kind,
            callback_url=f"/callbacks/{connection.id}",
        )


class ProviderConnectionCreated(ProviderConnectionOut):
    """The created connection with its signing secret, shown this once."""

    signing_secret: str


class ProviderConnectionPage(BaseModel):
    """One page of connections."""

    data: list[ProviderConnectionOut]
    next_cursor: str | None = None


class CallbackReceived(BaseModel):
    """The stored callback, and whether this delivery repeated one already received."""

    id: str
    duplicate: bool
