import dataclasses

import jwt
import pytest

from chalicelib.auth import tokens
from chalicelib.errors import Unauthorized


def test_a_locally_issued_token_verifies_to_its_agent(settings):
    principal = tokens.verify(settings, tokens.issue(settings, "alice"))
    assert principal == tokens.Principal("alice", "agent")


def test_an_expired_token_is_refused(settings):
    with pytest.raises(Unauthorized):
        tokens.verify(settings, tokens.issue(settings, "alice", ttl_seconds=-10))


def test_a_token_from_another_issuer_secret_is_refused(settings):
    other = dataclasses.replace(settings, jwt_secret="not-our-secret-but-long-enough-for-hs256")
    with pytest.raises(Unauthorized):
        tokens.verify(settings, tokens.issue(other, "alice"))


def test_an_unsigned_token_is_refused(settings):
    forged = jwt.encode({"sub": "sam", "role": "supervisor", "exp": 9999999999}, key=None, algorithm="none")
    with pytest.raises(Unauthorized):
        tokens.verify(settings, forged)
