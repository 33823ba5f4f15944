"""The small kit every domain stands on: money, ids, time, canonical JSON, errors, database."""
