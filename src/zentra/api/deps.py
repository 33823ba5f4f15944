"""Annotated dependencies shared by every endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from zentra.kit.context import ActorContext


def _session(request: Request) -> Session:
    session: Session = request.state.session
    return session


def _context(request: Request) -> ActorContext:
    context: ActorContext = request.state.context
    return context


DbSession = Annotated[Session, Depends(_session)]
"""The request's tenant-scoped session; its transaction is owned by the route."""

Context = Annotated[ActorContext, Depends(_context)]
"""The authenticated tenant and actor of the request."""
