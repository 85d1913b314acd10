"""The payer's side of SMART Backend Services, for the demo, the tests and anyone trying the API.

    key = new_key()                                   # ES384 (P-384) private key
    jwks = public_jwks(key)                           # what `confide directory register-payer --jwks-file` takes
    assertion = client_assertion(key, "Payer123", token_url, now=...)
    reply = request_token(token_url, "Payer123", key, scope="system/Task.write system/Task.read")

A real payer keeps its private key to itself; only the JWKS is ever given to the practice.
"""
from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Optional

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.smart import ASSERTION_TYPE, GRANT_TYPE

DEFAULT_SCOPE = "system/*.read system/*.write"
ALGORITHM = "ES384"


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ES384 signing key (P-384)."""
    return ec.generate_private_key(ec.SECP384R1())


def _b64(n: int, size: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode("ascii")


def public_jwk(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> dict:
    """The public JWK of a P-384 key, ``kid`` its RFC 7638 thumbprint, ``alg`` ES384, ``use`` sig."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    numbers = public.public_numbers()
    jwk = {"crv": "P-384", "kty": "EC", "x": _b64(numbers.x, 48), "y": _b64(numbers.y, 48)}
    thumb = hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest()
    return {**jwk, "kid": base64.urlsafe_b64encode(thumb).rstrip(b"=").decode("ascii"), "alg": ALGORITHM,
            "use": "sig"}


def public_jwks(*keys: ec.EllipticCurvePrivateKey) -> dict:
    return {"keys": [public_jwk(k) for k in keys]}


def client_assertion(key: ec.EllipticCurvePrivateKey, client_id: str, token_url: str,
                     now: Optional[datetime] = None, ttl_seconds: int = 240, jti: Optional[str] = None,
                     **extra_claims) -> str:
    """A private_key_jwt client assertion (ES384, ``kid`` of ``key``) for ``client_id`` at ``token_url``."""
    issued = int((now or datetime.now(timezone.utc)).timestamp())
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "iat": issued, "exp": issued + ttl_seconds,
              "jti": jti or uuid.uuid4().hex, **extra_claims}
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": public_jwk(key)["kid"], "typ": "JWT"})


def token_form(assertion: str, scope: str = DEFAULT_SCOPE) -> dict:
    return {"grant_type": GRANT_TYPE, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion,
            "scope": scope}


def request_token(token_url: str, client_id: str, key: ec.EllipticCurvePrivateKey, scope: str = DEFAULT_SCOPE,
                  timeout: float = 30) -> tuple[int, dict]:
    """POST a client-credentials request to ``token_url``: (status, JSON reply)."""
    body = urllib.parse.urlencode(token_form(client_assertion(key, client_id, token_url), scope)).encode()
    request = urllib.request.Request(token_url, data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Accept": "application/json"})
    return send(request, timeout)


def send(request: urllib.request.Request, timeout: float = 30) -> tuple[int, dict]:
    """Send ``request``: (status, its JSON body, or {} when there is none or it is not JSON)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}
