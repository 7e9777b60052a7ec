import dataclasses

import jwt
import pytest

from chalicelib.auth import tokens
from chalicelib.errors import Unauthorized


def test_a_locally_issued_token_verifies_to_its_agent(settings):
    principal = tokens.verify(settings, tokens.issue(settings, "alice"))
    assert principal == tokens.Principal("alice", "agent")


def test_an_expired_token_is_refused_and_told_to_sign_in_again(settings):
    with pytest.raises(Unauthorized, match="expired; sign in again"):
        tokens.verify(settings, tokens.issue(settings, "alice", ttl_seconds=-10))


def test_a_token_from_another_issuer_secret_is_refused(settings):
    other = dataclasses.replace(settings, jwt_secret="not-our-secret-but-long-enough-for-hs256")
    with pytest.raises(Unauthorized, match="^the token is not valid$"):
        tokens.verify(settings, tokens.issue(other, "alice"))


def test_an_unsigned_token_is_refused(settings):
    forged = jwt.encode({"sub": "sam", "role": "supervisor", "exp": 9999999999}, key=None, algorithm="none")
    with pytest.raises(Unauthorized):
        tokens.verify(settings, forged)


def test_cognito_id_tokens_verify_through_the_pools_jwks(settings, monkeypatch):
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pool = dataclasses.replace(settings, jwt_secret="", jwks_url="https://cognito.example/jwks.json",
                               jwt_issuer="https://cognito-idp.us-east-1.amazonaws.com/pool",
                               jwt_audience="client-id")

    class Jwks:
        def get_signing_key_from_jwt(self, token):
            return type("Key", (), {"key": key.public_key()})()
    monkeypatch.setattr(tokens, "_jwks", lambda url: Jwks())
    claims = {"sub": "uuid-1", "cognito:username": "sam", "cognito:groups": ["supervisor"],
              "iss": pool.jwt_issuer, "aud": "client-id", "exp": 9999999999}
    assert tokens.verify(pool, jwt.encode(claims, key, algorithm="RS256")) == tokens.Principal("sam", "supervisor")
    with pytest.raises(Unauthorized):
        tokens.verify(pool, jwt.encode({**claims, "aud": "another-client"}, key, algorithm="RS256"))
