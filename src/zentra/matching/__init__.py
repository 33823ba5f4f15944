"""The matching domain (pure): a columnar engine over Arrow batches, run on DuckDB.

Input is two Arrow tables — external records (settlement rows) and internal records
(movements) — and output is two Arrow tables — matches and exceptions — plus the run's
``result_fingerprint``. No database, no per-row Python on the hot path: each stage is one SQL
statement over whole columns, and every ordering that decides a winner is a total order on
natural keys, so the same input in any order gives the same result.
"""
