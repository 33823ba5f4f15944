"""Normalization of provider references, shared by ingestion and matching.

Providers and internal systems write the same reference with different case and stray spaces
(``" pi_3N ab "`` vs ``"PI_3NAB"``). The match key is the reference upper-cased with all
whitespace removed; the original text is always kept beside it.
"""

from __future__ import annotations


def reference_key(reference: str) -> str:
    """The normalized match key of ``reference`` (``" pi_3N ab " -> "PI_3NAB"``)."""
    return "".join(reference.split()).upper()
