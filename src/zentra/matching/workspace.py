"""The engine's working state: one DuckDB connection holding both sides' open records and
what the stages decided so far.

Tables (all temporary):

- ``e_open`` / ``i_open``: provider rows and movements no stage has decided on yet. At first they
  are views over the whole input; a stage *closes* records by naming them, and :meth:`settle`
  rebuilds the open sets without them (an anti-join on what is left, so after the first stage,
  which decides most records, every later stage works on a small table);
- ``match_info``: one row per match: rule, cardinality, the external and movement ids, deltas;
  the ``exact_reference`` stage, which decides most records, writes its matches in their final
  shape (:data:`MATCH_SCHEMA`) to :attr:`Workspace.final_matches` instead, partition by
  partition, so that they are never held twice;
- ``exc_out``: exceptions a stage decided (type, the row or movement, candidates);
- ``notes``: ambiguities (a row and a candidate that fit as well as another) that a later stage
  may still resolve; what is left of them at the end becomes ``ambiguous_match``.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Final

import duckdb
import pyarrow as pa

from zentra.matching.columns import EXTERNAL_SCHEMA, INTERNAL_SCHEMA, MATCH_SCHEMA

MEMORY_LIMIT_MIB: Final = 1024
"""DuckDB's memory limit for one run: past it, operators and temporary tables spill to the
workspace's own temporary directory instead of growing (measured in ADR 0004)."""

EXACT_ROWS_PER_PARTITION: Final = 500_000
"""Input rows (both sides together) per partition of the ``exact_reference`` stage: its
working tables for one partition stay a few hundred MB whatever the size of the run."""


def exact_partitions_for(rows: int) -> int:
    """How many reference-hash partitions the exact stage uses for ``rows`` input rows."""
    return max(1, math.ceil(rows / EXACT_ROWS_PER_PARTITION))


@contextmanager
def spilling_connection(
    prefix: str, memory_limit_mib: int | None = MEMORY_LIMIT_MIB, threads: int | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection that spills to a temporary directory of its own (named ``prefix``...)
    past ``memory_limit_mib`` (None: DuckDB's default, a share of the machine's memory), with
    ``threads`` threads (None: DuckDB's default). On exit the connection is closed and the
    directory removed, whatever was spilled to it."""
    with tempfile.TemporaryDirectory(prefix=prefix) as spill:
        config: dict[str, str | bool | int | float | list[str]] = {"temp_directory": spill}
        if memory_limit_mib is not None:
            config["memory_limit"] = f"{int(memory_limit_mib)}MiB"
        if threads is not None:
            config["threads"] = int(threads)
        connection = duckdb.connect(config=config)
        try:
            yield connection
        finally:
            connection.close()


_DIGEST_BATCH_ROWS: Final = 100_000


def streamed_sha256(connection: duckdb.DuckDBPyConnection, query: str) -> tuple[int, str]:
    """How many rows ``query`` (one text column) returns, and the sha256 (hex) of their values
    concatenated in its order. The values are read in batches into one digest, never joined
    into one string of every row."""
    digest, count = hashlib.sha256(), 0
    with connection.sql(query).to_arrow_reader(_DIGEST_BATCH_ROWS) as reader:
        for batch in reader:
            count += batch.num_rows
            digest.update("".join(batch.column(0).to_pylist()).encode())
    return count, digest.hexdigest()


_SETUP = (
    "CREATE TEMP VIEW e_open AS SELECT * FROM ext",
    "CREATE TEMP VIEW i_open AS SELECT * FROM int",
    "CREATE TEMP TABLE e_closing (id VARCHAR)",
    "CREATE TEMP TABLE i_closing (movement_id VARCHAR)",
    """
    CREATE TEMP TABLE match_info (
        match_key VARCHAR, rule VARCHAR, kind VARCHAR, external_ids VARCHAR[],
        movement_ids VARCHAR[], amount_delta BIGINT, days_delta INTEGER, similarity INTEGER)
    """,
    """
    CREATE TEMP TABLE exc_out (
        type VARCHAR, rule VARCHAR, external_id VARCHAR, movement_id VARCHAR,
        candidate_ids VARCHAR[], candidate_external_ids VARCHAR[], amount_delta BIGINT)
    """,
    "CREATE TEMP TABLE notes (external_id VARCHAR, movement_id VARCHAR, rule VARCHAR)",
)


class Workspace:
    """A DuckDB connection with both sides loaded and the decision tables created.

    ``threads`` fixes DuckDB's thread count; ``memory_limit_mib`` bounds its memory, spilling to
    a temporary directory the workspace owns and removes on :meth:`close` (None leaves DuckDB's
    default, a share of the machine's memory); ``exact_partitions`` is the number of
    reference-hash partitions of the ``exact_reference`` stage (None: one per
    :data:`EXACT_ROWS_PER_PARTITION` input rows).
    """

    def __init__(
        self,
        external: pa.Table,
        internal: pa.Table,
        threads: int | None,
        *,
        memory_limit_mib: int | None = MEMORY_LIMIT_MIB,
        exact_partitions: int | None = None,
    ) -> None:
        if exact_partitions is not None and exact_partitions < 1:
            raise ValueError("exact_partitions must be at least 1")
        self.exact_partitions = exact_partitions or exact_partitions_for(
            external.num_rows + internal.num_rows
        )
        self.final_matches: list[pa.Table] = []
        external = external.select(EXTERNAL_SCHEMA.names).cast(EXTERNAL_SCHEMA)
        internal = internal.select(INTERNAL_SCHEMA.names).cast(INTERNAL_SCHEMA)
        # A workspace that fails to set up is never closed by its caller: release what it made.
        with ExitStack() as undo:
            self.connection = undo.enter_context(
                spilling_connection("zentra-matching-", memory_limit_mib, threads)
            )
            self.connection.register("ext", external)
            self.connection.register("int", internal)
            self._open_are_views = True
            for statement in _SETUP:
                self.connection.execute(statement)
            self._resources = undo.pop_all()

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
            INSERT INTO match_info
            SELECT '{rule}:' || external_id, '{rule}', '1:1', [external_id], [movement_id],
                   amount_delta, days_delta, similarity
            FROM {accepted}
            """
        )
        self.close_external(f"SELECT external_id FROM {accepted}")
        self.close_internal(f"SELECT movement_id FROM {accepted}")

    def record_final_matches(self, query: str) -> None:
        """Keep the matches ``query`` returns, in the columns of :data:`MATCH_SCHEMA`, as part
        of the result. The caller closes their records."""
        self.final_matches.append(self.arrow(query).cast(MATCH_SCHEMA))

    def record_groups(self, rule: str, kind: str, table: str) -> None:
        """Record matches of several records from ``table`` (external_ids, movement_ids,
        amount_delta) and close their records."""
        self.execute(
            f"""
            INSERT INTO match_info
            SELECT '{rule}:' || external_ids[1] || ':' || movement_ids[1], '{rule}', '{kind}',
                   external_ids, movement_ids, amount_delta, NULL, NULL
            FROM {table}
            """
        )
        self.close_external(f"SELECT unnest(external_ids) FROM {table}")
        self.close_internal(f"SELECT unnest(movement_ids) FROM {table}")

    def close_external(self, ids_query: str) -> None:
        """Mark provider rows as decided; they leave the open set at :meth:`settle`."""
        self.execute(f"INSERT INTO e_closing {ids_query}")

    def close_internal(self, ids_query: str) -> None:
        """Mark movements as decided; they leave the open set at :meth:`settle`."""
        self.execute(f"INSERT INTO i_closing {ids_query}")

    def settle(self) -> None:
        """Rebuild the open sets without the records closed since the last settle."""
        drop = "DROP VIEW" if self._open_are_views else "DROP TABLE"
        for open_table, closing, key in (
            ("e_open", "e_closing", "id"),
            ("i_open", "i_closing", "movement_id"),
        ):
            self.execute(
                f"""
                CREATE TEMP TABLE {open_table}_next AS
                SELECT * FROM {open_table} o
                WHERE NOT EXISTS (SELECT 1 FROM {closing} c WHERE c.{key} = o.{key})
                """
            )
            self.execute(f"{drop} {open_table}")
            self.execute(f"ALTER TABLE {open_table}_next RENAME TO {open_table}")
            self.execute(f"DELETE FROM {closing}")
        self._open_are_views = False

    def drop(self, *tables: str) -> None:
        """Drop working tables a stage no longer needs, so their memory is free for the next."""
        for table in tables:
            self.execute(f"DROP TABLE IF EXISTS {table}")

    def close(self) -> None:
        """Release the connection and remove what it spilled."""
        self._resources.close()
