"""The engine's working state: one DuckDB connection holding both sides' open records and
what the stages decided so far.

Tables (all temporary):

- ``e_open`` / ``i_open``: provider rows and movements no stage has decided on yet;
- ``links``: one row per member of a match (``external_id`` or ``movement_id``);
- ``match_info``: one row per match: rule, cardinality, per-field deltas, score;
- ``exc_out``: exceptions a stage decided (type, the row or movement, candidates);
- ``notes``: ambiguities (a row and a candidate that fit as well as another) that a later stage
  may still resolve; what is left of them at the end becomes ``ambiguous_match``.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from zentra.matching.columns import EXTERNAL_SCHEMA, INTERNAL_SCHEMA

_SETUP = (
    "CREATE TEMP TABLE e_open AS SELECT * FROM ext",
    "CREATE TEMP TABLE i_open AS SELECT * FROM int",
    """
    CREATE TEMP TABLE links (
        match_key VARCHAR, external_id VARCHAR, movement_id VARCHAR)
    """,
    """
    CREATE TEMP TABLE match_info (
        match_key VARCHAR, rule VARCHAR, kind VARCHAR, amount_delta BIGINT,
        days_delta INTEGER, similarity INTEGER)
    """,
    """
    CREATE TEMP TABLE exc_out (
        type VARCHAR, rule VARCHAR, external_id VARCHAR, movement_id VARCHAR,
        candidate_ids VARCHAR[], candidate_external_ids VARCHAR[], amount_delta BIGINT)
    """,
    "CREATE TEMP TABLE notes (external_id VARCHAR, movement_id VARCHAR, rule VARCHAR)",
)


class Workspace:
    """A DuckDB connection with both sides loaded and the decision tables created."""

    def __init__(self, external: pa.Table, internal: pa.Table, threads: int | None) -> None:
        self.connection = duckdb.connect()
        if threads is not None:
            self.connection.execute(f"SET threads TO {int(threads)}")
        self.connection.register(
            "ext", external.select(EXTERNAL_SCHEMA.names).cast(EXTERNAL_SCHEMA)
        )
        self.connection.register(
            "int", internal.select(INTERNAL_SCHEMA.names).cast(INTERNAL_SCHEMA)
        )
        for statement in _SETUP:
            self.connection.execute(statement)

    def execute(self, sql: str, parameters: list[object] | None = None) -> None:
        """Run one statement (DDL or DML)."""
        self.connection.execute(sql, parameters or [])

    def arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result as an Arrow table."""
        return self.connection.sql(sql).to_arrow_table()

    def scalar(self, sql: str) -> object:
        """Run a query returning one value."""
        return self.connection.sql(sql).fetchall()[0][0]

    def record_one_to_one(self, rule: str, accepted: str) -> None:
        """Record 1:1 matches from table ``accepted`` (external_id, movement_id, amount_delta,
        days_delta, similarity) and close both records."""
        self.execute(
            f"""
            INSERT INTO links
            SELECT '{rule}:' || external_id, external_id, NULL FROM {accepted}
            UNION ALL
            SELECT '{rule}:' || external_id, NULL, movement_id FROM {accepted}
            """
        )
        self.execute(
            f"""
            INSERT INTO match_info
            SELECT '{rule}:' || external_id, '{rule}', '1:1', amount_delta, days_delta,
                   similarity
            FROM {accepted}
            """
        )
        self.close_external(f"SELECT external_id FROM {accepted}")
        self.close_internal(f"SELECT movement_id FROM {accepted}")

    def close_external(self, ids_query: str) -> None:
        """Take provider rows out of the open set."""
        self.execute(f"DELETE FROM e_open WHERE id IN ({ids_query})")

    def close_internal(self, ids_query: str) -> None:
        """Take movements out of the open set."""
        self.execute(f"DELETE FROM i_open WHERE movement_id IN ({ids_query})")

    def close(self) -> None:
        """Release the connection."""
        self.connection.close()
