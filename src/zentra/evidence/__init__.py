"""The evidence domain (pure): canonical documents, Merkle trees, Ed25519 signatures, verify.

Nothing here touches a database or the network, so a sealed closeout can be checked offline with
nothing but the document itself (``zentra verify closeout.json``).
"""
