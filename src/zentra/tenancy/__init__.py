"""The tenancy domain: tenants (workspaces), API keys with roles, and authentication.

An API key is ``zk_`` plus 32 random bytes; only its sha256 is stored (the secret has full
entropy, so a slow hash adds nothing), and it is shown once. Every key belongs to one tenant.
"""
