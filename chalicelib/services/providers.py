"""Clients for the world outside DynamoDB, created once per container and cached."""
from __future__ import annotations

import json
from functools import lru_cache

from ..settings import get_settings

TWILIO_API = "https://api.twilio.com"


@lru_cache(maxsize=1)
def twilio():
    """The official Twilio client; imported on first send, as most invocations never send SMS."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client as TwilioClient

    class RedirectingTwilioHttpClient(TwilioHttpClient):
        """The official transport, sending to a base URL of ours (the local sink)."""

        def request(self, method, url, *args, **kwargs):
            if url.startswith(TWILIO_API):
                url = s.twilio_api_base + url[len(TWILIO_API):]
            return super().request(method, url, *args, **kwargs)

    s = get_settings()
    http = (RedirectingTwilioHttpClient if s.twilio_api_base else TwilioHttpClient)(timeout=10)
    return TwilioClient(s.twilio_account_sid, s.twilio_auth_token, http_client=http)


def _aws(service: str):
    import boto3  # on first use: a webhook that only writes DynamoDB never needs it
    s = get_settings()
    return boto3.client(service, region_name=s.region, endpoint_url=s.aws_endpoint_url)


@lru_cache(maxsize=1)
def sns():
    return _aws("sns")


@lru_cache(maxsize=1)
def sqs():
    return _aws("sqs")


def retry_later(body: dict, delay: int) -> None:
    """A message for the retry queue (``handle_notify_retry``), handed over in ``delay`` seconds (SQS: ≤ 900)."""
    sqs().send_message(QueueUrl=_retry_queue_url(), DelaySeconds=delay, MessageBody=json.dumps(body))


@lru_cache(maxsize=1)
def _retry_queue_url() -> str:
    return sqs().get_queue_url(QueueName=get_settings().notify_retry_queue)["QueueUrl"]


@lru_cache(maxsize=1)
def streams():
    """DynamoDB Streams: reading back the records of a batch Lambda gave up on."""
    return _aws("dynamodbstreams")


@lru_cache(maxsize=1)
def s3():
    return _aws("s3")


@lru_cache(maxsize=1)
def ses():
    import boto3
    s = get_settings()
    return boto3.client("ses", region_name=s.region, endpoint_url=s.ses_endpoint_url or s.aws_endpoint_url)


@lru_cache(maxsize=1)
def websockets():
    """API Gateway's management API for the chat WebSocket stage, when one is deployed."""
    import boto3
    s = get_settings()
    return boto3.client("apigatewaymanagementapi", region_name=s.region, endpoint_url=s.chat_websocket_endpoint)


@lru_cache(maxsize=1)
def http():
    import requests
    return requests.Session()


def send_context():
    """What channel adapters may use to send."""
    from channels.base import SendContext
    return SendContext(settings=get_settings(), http=http(), twilio=twilio, ses=ses)


def reset() -> None:
    """Forget cached clients (tests that swap settings)."""
    for f in (twilio, sns, sqs, _retry_queue_url, streams, s3, ses, websockets, http):
        f.cache_clear()
