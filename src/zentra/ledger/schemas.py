"""Request and response bodies of the ledger API (SPEC 5).

Amounts are integers in minor units (a float is refused by the schema, before any check);
times are RFC 3339 text in UTC. :class:`EntryRequest` is also the Python contract of
:func:`zentra.ledger.service.create_entry`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from zentra.kit.time import isoformat
from zentra.ledger.entries import (
    AccountType,
    Balances,
    Direction,
    PostingLine,
    entry_content,
)
from zentra.models import LedgerAccount, LedgerEntry

IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
"""Account codes and entry ids: letters, digits and ``_ . : -``, not starting with a mark."""
MAX_BATCH = 8000
"""Entries in one ``POST /ledger/entries/batch``."""
MAX_POSTINGS = 500
"""Postings in one entry."""

Reference = Annotated[str, Field(max_length=200)]


class PostingIn(BaseModel):
    """One posting of an entry request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str = Field(min_length=1, max_length=200, description="Account code")
    direction: Direction
    amount: StrictInt = Field(description="Integer minor units, above zero")
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR")


class EntryRequest(BaseModel):
    """``POST /ledger/entries``: an entry addressed by the client's ``entry_id``.

    The same ``entry_id`` with the same content answers the stored entry; with other content it
    is refused, naming the fields that differ. ``pending: true`` records a two-phase entry that
    is later posted or voided.
    """

    model_config = ConfigDict(extra="forbid")

    entry_id: str = Field(min_length=1, max_length=200, pattern=IDENTIFIER)
    description: str = Field(default="", max_length=1000)
    effective_at: AwareDatetime
    postings: list[PostingIn] = Field(max_length=MAX_POSTINGS)
    pending: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)
    references: dict[str, Reference] = Field(
        default_factory=dict,
        max_length=20,
        description="External references, e.g. provider_reference (filterable)",
    )

    def lines(self) -> list[PostingLine]:
        """The postings as pure values."""
        return [PostingLine(p.account, p.direction, p.amount, p.currency) for p in self.postings]

    def content(self, lines: list[PostingLine] | None = None) -> dict[str, Any]:
        """The content that is hashed and compared (:func:`entry_content`); ``lines`` are
        :meth:`lines`, passed when the caller has them already."""
        return entry_content(
            entry_id=self.entry_id,
            description=self.description,
            effective_at=self.effective_at,
            postings=self.lines() if lines is None else lines,
            pending=self.pending,
            metadata=self.metadata,
            references=self.references,
        )


class AccountRequest(BaseModel):
    """``POST /ledger/accounts``. ``normal_side`` defaults from the type: debit for assets and
    expenses, credit for the others."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=200, pattern=IDENTIFIER)
    type: AccountType
    currency: str = Field(min_length=3, max_length=3)
    non_negative: bool = False
    normal_side: Direction | None = None


class ReverseRequest(BaseModel):
    """``POST /ledger/entries/{entry_id}/reverse``: all optional. The reversal's id defaults to
    ``{entry_id}:reversal``, its effective time to now."""

    model_config = ConfigDict(extra="forbid")

    entry_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=IDENTIFIER)
    description: str | None = Field(default=None, max_length=1000)
    effective_at: AwareDatetime | None = None


class BatchRequest(BaseModel):
    """``POST /ledger/entries/batch``: up to 8,000 entries. ``atomic`` (default): all or
    nothing, the first refusal named with its index; otherwise one result per entry."""

    model_config = ConfigDict(extra="forbid")

    entries: list[EntryRequest] = Field(min_length=1, max_length=MAX_BATCH)
    atomic: bool = True


class AccountOut(BaseModel):
    """An account with its balances in minor units, signed by its normal side."""

    id: str
    code: str
    type: str
    currency: str
    normal_side: str
    non_negative: bool
    posted: int
    pending: int
    available: int
    posted_debits: int
    posted_credits: int
    pending_debits: int
    pending_credits: int
    created_at: str

    @classmethod
    def of(cls, account: LedgerAccount) -> AccountOut:
        balances = Balances(
            account.normal_side,
            account.posted_debits,
            account.posted_credits,
            account.pending_debits,
            account.pending_credits,
        )
        return cls(
            id=account.id,
            code=account.code,
            type=account.type,
            currency=account.currency,
            normal_side=account.normal_side,
            non_negative=account.non_negative,
            posted=balances.posted,
            pending=balances.pending,
            available=balances.available,
            posted_debits=account.posted_debits,
            posted_credits=account.posted_credits,
            pending_debits=account.pending_debits,
            pending_credits=account.pending_credits,
            created_at=isoformat(account.created_at),
        )


class AccountPage(BaseModel):
    """One page of accounts."""

    data: list[AccountOut]
    next_cursor: str | None = None


class PostingOut(BaseModel):
    """One posting of an entry."""

    account: str
    direction: str
    amount: int
    currency: str


def _time(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


class EntryOut(BaseModel):
    """An entry with its postings. ``pending`` is the request's two-phase flag; ``status`` is
    where the entry is now."""

    id: str
    entry_id: str
    status: str
    description: str
    effective_at: str
    pending: bool
    postings: list[PostingOut]
    metadata: dict[str, Any]
    references: dict[str, Any]
    reverses_entry_id: str | None
    reversed_by_entry_id: str | None
    created_at: str
    created_by: str
    posted_at: str | None
    posted_by: str | None
    voided_at: str | None
    voided_by: str | None

    @classmethod
    def of(cls, entry: LedgerEntry, postings: list[PostingLine]) -> EntryOut:
        return cls(
            id=entry.id,
            entry_id=entry.entry_id,
            status=entry.status,
            description=entry.description,
            effective_at=isoformat(entry.effective_at),
            pending=entry.two_phase,
            postings=[PostingOut(**line.as_json()) for line in postings],
            metadata=entry.metadata_,
            references=entry.references,
            reverses_entry_id=entry.reverses_entry_id,
            reversed_by_entry_id=entry.reversed_by_entry_id,
            created_at=isoformat(entry.created_at),
            created_by=entry.created_by,
            posted_at=_time(entry.posted_at),
            posted_by=entry.posted_by,
            voided_at=_time(entry.voided_at),
            voided_by=entry.voided_by,
        )


class EntryPage(BaseModel):
    """One page of entries."""

    data: list[EntryOut]
    next_cursor: str | None = None


class BatchItemOut(BaseModel):
    """The outcome of one entry of a batch: ``created``, ``existing`` (a replay) or
    ``refused`` (with the problem it would have answered alone)."""

    index: int
    entry_id: str
    outcome: str
    id: str | None = None
    status: str | None = None
    error: dict[str, Any] | None = None


class BatchOut(BaseModel):
    """The outcome of a batch, counted and per entry in request order."""

    atomic: bool
    created: int
    existing: int
    refused: int
    results: list[BatchItemOut]
