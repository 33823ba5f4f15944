"""The ingest domain: settlement files (kept byte-exact) and internal movements.

``sources/`` holds one parser per file format; each turns bytes into normalized external
records plus rejected rows (line and reason), never a guessed value. ``service`` stores a file
once per content (sha256), its records with content hashes (``hashing``), and imports the
tenant's own movements (``movement_rows``), each re-import of the same content a no-op.

Errors raised here come from :mod:`zentra.kit.errors`: ``UnreadableFile`` (a file that cannot be
read at all; retained as evidence), ``InvalidInput`` (a bad request: unknown format, media type),
``NotFound`` (no such file in the tenant), ``PermissionDenied`` (writes need ``service``).
"""
