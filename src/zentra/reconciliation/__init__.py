"""The reconciliation domain: runs, matches, exceptions and closeouts.

A run goes ``created -> matching -> review -> closing -> closed`` (or ``failed``, with a retry).
Matching is done by a worker job over columnar batches (``zentra.matching``); every mismatch
becomes an owned exception; a run closes only when every exception is resolved, written off or
carried forward, and then its evidence is sealed and signed.
"""
