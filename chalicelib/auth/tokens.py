"""Agent bearer tokens: a local HS256 issuer, or RS256 via JWKS (Cognito) in AWS."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

from ..errors import Unauthorized


@dataclass(frozen=True)
class Principal:
    """Who a verified token names, and the most it allows: ``supervisor`` only for a Cognito token of the
    ``supervisor`` group, or a local token whose ``role`` claim says so (the local issuer copies the
    agents item's role at sign-in). The agents item must say so too (services/agents.actor)."""
    agent_id: str
    role: str


def issue(settings, agent_id: str, role: str = "agent", ttl_seconds: int = 12 * 3600) -> str:
    import jwt  # on first use: PyJWT pulls in cryptography, which cold starts need not pay for
    if not settings.jwt_secret:
        raise RuntimeError("tokens are issued by Cognito on this stage")
    now = int(time.time())
    claims = {"sub": agent_id, "role": role, "iss": settings.jwt_issuer,
              "aud": settings.jwt_audience, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


@lru_cache(maxsize=4)
def _jwks(url: str):
    import jwt
    return jwt.PyJWKClient(url, cache_keys=True)


def verify(settings, token: str) -> Principal:
    import jwt
    try:
        if settings.jwks_url:
            key = _jwks(settings.jwks_url).get_signing_key_from_jwt(token).key
            claims = jwt.decode(token, key, algorithms=["RS256"], issuer=settings.jwt_issuer,
                                audience=settings.jwt_audience, options={"require": ["exp", "sub"]})
            groups = claims.get("cognito:groups", [])
            role = "supervisor" if "supervisor" in groups else "agent"
            return Principal(claims.get("cognito:username") or claims.get("username") or claims["sub"], role)
        claims = jwt.decode(token, settings.jwt_secret, algorithms=["HS256"], issuer=settings.jwt_issuer,
                            audience=settings.jwt_audience, options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired; sign in again") from None
    except jwt.PyJWTError:  # which check failed stays with us: it would only help a forger
        raise Unauthorized("the token is not valid") from None
    return Principal(claims["sub"], claims.get("role", "agent"))
