"""Who is asking: identifiers, the role catalogue and signed identity assertions (pure: stdlib, PyJWT, cryptography).

A person signs in at the front door, which mints a short-lived Ed25519-signed assertion
(:func:`confide.identity.assertions.mint`); every service verifies it
(:func:`confide.identity.assertions.verify`) and takes the requester's id, roles and org from the
resulting :class:`~confide.identity.assertions.Principal` alone -- 45 CFR 164.312(a)(2)(i)
(unique user identification) and 164.312(d) (person or entity authentication).
"""
