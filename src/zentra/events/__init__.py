"""The events domain: an outbox written in the same transaction as the change it describes.

An event is never published before its transaction commits and never lost after: delivery (the
webhooks of a later issue) reads the outbox. ``types.py`` lists every event type Zentra emits.
"""
