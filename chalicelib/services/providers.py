"""Clients for the world outside DynamoDB, created once per container and cached."""
from __future__ import annotations

from functools import lru_cache

import boto3
import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from ..settings import get_settings

TWILIO_API = "https://api.twilio.com"


class RedirectingTwilioHttpClient(TwilioHttpClient):
    """The official client's transport, sending to a base URL of ours (the local sink)."""

    def __init__(self, base_url: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


@lru_cache(maxsize=1)
def twilio() -> TwilioClient:
    s = get_settings()
    http = RedirectingTwilioHttpClient(s.twilio_api_base, timeout=10) if s.twilio_api_base \
        else TwilioHttpClient(timeout=10)
    return TwilioClient(s.twilio_account_sid, s.twilio_auth_token, http_client=http)


def _aws(service: str):
    s = get_settings()
    return boto3.client(service, region_name=s.region, endpoint_url=s.aws_endpoint_url)


@lru_cache(maxsize=1)
def sns():
    return _aws("sns")


@lru_cache(maxsize=1)
def sqs():
    return _aws("sqs")


@lru_cache(maxsize=1)
def http() -> requests.Session:
    return requests.Session()


def reset() -> None:
    """Forget cached clients (tests that swap settings)."""
    for f in (twilio, sns, sqs, http):
        f.cache_clear()
