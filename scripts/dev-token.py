#!/usr/bin/env python3
"""Mint an HS256 bearer token the stackpro handlers accept (standard library only).

    python3 scripts/dev-token.py --tenant dev [--role member] [--scope "messaging:read messaging:write"]

The secret is STACKPRO_JWT_SECRET, else the local default `stackpro dev` gives the
handlers (cli/src/commands/dev.rs, LOCAL_JWT_SECRET). For local development and tests:
in AWS the secret is an SSM SecureString and tokens come from your identity provider.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import time

LOCAL_JWT_SECRET = "stackpro-local-development-secret"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tenant", default="dev")
    p.add_argument("--sub", default=None, help="subject (default: user@<tenant>)")
    p.add_argument("--role", default="member", choices=["viewer", "member", "admin"])
    p.add_argument("--scope", default="messaging:read messaging:write")
    p.add_argument("--audience", default=os.environ.get("STACKPRO_JWT_AUDIENCE", "stackpro"))
    p.add_argument("--ttl", type=int, default=3600, help="seconds until expiry")
    a = p.parse_args()
    secret = os.environ.get("STACKPRO_JWT_SECRET") or LOCAL_JWT_SECRET
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "sub": a.sub or f"user@{a.tenant}",
        "tenant_id": a.tenant,
        "role": a.role,
        "scope": a.scope,
        "exp": int(time.time()) + a.ttl,
        "aud": a.audience,
    }
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    print(f"{signing_input}.{b64url(signature)}")


if __name__ == "__main__":
    main()
