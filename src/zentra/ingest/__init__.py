"""The ingest domain: settlement files (kept byte-exact) and internal movements.

``sources/`` holds one parser per file format; each turns bytes into normalized external
records plus rejected rows (line and reason), never a guessed value.
"""
