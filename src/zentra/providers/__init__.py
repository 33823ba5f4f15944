"""The providers domain: provider connections and their signed inbound callbacks.

A *provider connection* is a configured rail (``rail_primary``) of one kind — ``stripe``,
``adyen``, ``standard_webhooks`` or ``sandbox`` — with the secret its callbacks are signed with.
``POST /callbacks/{connection_id}`` carries no API key: the connection id selects the tenant and
the provider's own signature scheme (``signatures``) authenticates the body, byte for byte.

- A callback whose signature does not verify is refused (:class:`InvalidSignature`) and leaves
  one trace only: a ``security_log`` row, committed with the refusal.
- A verified callback is stored raw, once per provider event id (a redelivery changes nothing),
  and normalized (``normalize``) into an external record that belongs to no settlement file
  (``callbacks.external_record_id`` points at it).
- A verified body that does not say what happened (no event id, no type, a float amount) is
  refused as :class:`MalformedCallback`.

Correlation to movements (out-of-order safe) and to runs comes later.
"""
