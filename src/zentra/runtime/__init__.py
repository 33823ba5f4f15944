"""The runtime domain: payment intents run through policy, ledger, routing and events.

An *intent* asks to move money from a source account to a destination. It goes through one
state machine (``states``): ``accepted`` (the contract holds) -> ``controlled`` (the tenant's
policy: limits, velocity, blocked counterparties, risk rules) -> ``ledgered`` (customer ->
reserved) -> ``routed`` (the first usable rail of the first matching route; the rail assigns the
provider reference and the internal movement is created) -> ``synchronized`` (every transition
is in the event outbox) -> ``evidenced`` (actor, scope, policy result and time sealed with the
tenant's Ed25519 key), or ``rejected`` with a reason, having posted nothing.

Policy and routes are versioned tenant settings; rail health fails routing over to the next
rail. A ``sandbox`` rail plays the provider (``sandbox``, ``sandbox_service``): it settles a day
with signed callbacks through the real callback path and a settlement file through the real
settlement-file service, with configurable noise, and each settlement posts reserved ->
settlement (and fees), the merchant credit and the payout (``flows``, ``settlement``).
"""
