"""Read query results straight into Arrow columns, for the batch paths.

A run reads a whole settlement file and a window of movements at once. Going through SQLAlchemy
rows costs several Python objects per value (measured here: 1.6 s per 100k settlement rows).
:func:`fetch_arrow` compiles a SQLAlchemy select with literal parameters and:

- on PostgreSQL runs it on a short-lived ADBC connection, which fills Arrow buffers natively
  (binary COPY), inside a transaction with the session's tenant scope applied the same way
  (``SET LOCAL ROLE zentra_app`` and the transaction-local tenant setting), so row-level
  security holds beneath this path too. Only committed rows are visible: callers read inputs
  committed before their transaction (a run's settlement file and movements);
- on SQLite runs it on the session's own ``sqlite3`` connection (0.7 s per 100k rows) and builds
  the columns from the fetched rows. Not ADBC: its driver links a second copy of SQLite, and two
  copies in one process break each other's POSIX locks on the same file (sqlite.org,
  "How To Corrupt An SQLite Database File", 2.2.1).

Values are cast to the ``schema`` the caller asks for: SQLite hands back timestamps and dates
as text, which Arrow parses exactly (no time zone on SQLite means UTC, as everywhere in Zentra).
"""

from __future__ import annotations

import adbc_driver_postgresql.dbapi as adbc_postgresql
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement

from zentra.kit.db import APP_ROLE, TENANT_SETTING


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for field, column in zip(schema, table.columns, strict=True):
        if table.num_rows == 0 or pa.types.is_null(column.type):
            # Nothing (or only NULLs) to infer a type from: the drivers guess; take the schema's.
            column = pa.nulls(table.num_rows, type=field.type)
        elif pa.types.is_timestamp(field.type) and pa.types.is_string(column.type):
            naive = pc.cast(column, pa.timestamp(field.type.unit))
            column = pc.assume_timezone(naive, "UTC") if field.type.tz else naive
        elif column.type != field.type:
            column = pc.cast(column, field.type)
        columns.append(column)
    return pa.table(columns, schema=schema)


def fetch_arrow(session: Session, statement: ClauseElement, schema: pa.Schema) -> pa.Table:
    """Run ``statement`` (its columns in ``schema``'s order) and return an Arrow table of
    ``schema``. See the module docstring for what the read sees."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    url = make_url(engine.url.render_as_string(hide_password=False))
    if url.get_backend_name() == "sqlite":
        driver = session.connection().connection.driver_connection
        assert driver is not None  # an open session connection always has one
        rows = driver.execute(sql).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.names]
        return _cast(pa.table([pa.array(c) for c in columns], names=schema.names), schema)
    uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
    tenant_id = session.info.get("tenant_id")
    with adbc_postgresql.connect(uri) as connection:
        cursor = connection.cursor()
        if tenant_id is not None:
            cursor.execute(f"SET LOCAL ROLE {APP_ROLE}")
            cursor.execute("SELECT set_config($1, $2, true)", (TENANT_SETTING, tenant_id))
        cursor.execute(sql)
        table = cursor.fetch_arrow_table()
        connection.rollback()
    return _cast(table, schema)
