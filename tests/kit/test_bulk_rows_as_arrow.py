"""kit.bulk.rows_as_arrow: mappings turned into Arrow read back exactly as the ORM wrote them."""

from __future__ import annotations

from sqlalchemy import insert

from tests.conftest import TenantHandle
from tests.kit.test_bulk import _read_back, _rows, _without_ids
from zentra.kit.bulk import bulk_insert, rows_as_arrow
from zentra.kit.db import Database
from zentra.models import Movement


def test_rows_as_arrow_read_back_as_orm_written_rows(db: Database, tenant: TenantHandle) -> None:
    columns = [
        {("metadata" if key == "metadata_" else key): value for key, value in row.items()}
        for row in _rows(tenant.tenant_id, "conv")
    ]
    table = rows_as_arrow(Movement.__table__, columns)
    assert table.schema.field("metadata").type == "string"
    assert table.column("metadata").to_pylist()[1] == "{}"
    with db.unit_of_work(tenant.tenant_id) as session:
        session.execute(insert(Movement), _rows(tenant.tenant_id, "orm"))
        assert bulk_insert(session, Movement.__table__, table) == 3
    expected = _without_ids(_read_back(db, tenant.tenant_id, "orm"))
    assert _without_ids(_read_back(db, tenant.tenant_id, "conv")) == expected
