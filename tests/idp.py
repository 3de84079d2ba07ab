"""A tiny identity provider for tests: own RSA/EC keys, a JWKS and a discovery document
served over HTTP from http.server on 127.0.0.1, and tokens signed with those keys."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    else:
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig"}


class LocalIdp:
    """Serves ``/jwks.json`` (the current keys) and ``/.well-known/openid-configuration``;
    counts the requests per path. ``keys`` may be replaced at any time (rotation)."""

    def __init__(self) -> None:
        self.keys: dict[str, PrivateKey] = {"k1": rsa_key()}
        self.requests: Counter[str] = Counter()
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                idp.requests[self.path] += 1
                if self.path == "/jwks.json":
                    body: Any = {"keys": [public_jwk(k, kid) for kid, k in idp.keys.items()]}
                elif self.path == "/.well-known/openid-configuration":
                    body = {"issuer": idp.issuer, "jwks_uri": idp.jwks_url}
                else:
                    self.send_error(404)
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.jwks_url = f"{self.issuer}/jwks.json"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def token(
        self,
        groups: list[str] | None = None,
        *,
        kid: str = "k1",
        alg: str = "RS256",
        key: Any = None,
        lifetime: int = 300,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": "deltadb-api",
            "sub": "user-1",
            "preferred_username": "alice",
            "iat": now,
            "exp": now + lifetime,
            "groups": groups if groups is not None else ["deltadb-writers"],
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        signing_key = key if key is not None else self.keys[kid]
        return jwt.encode(payload, signing_key, algorithm=alg, headers={"kid": kid})
