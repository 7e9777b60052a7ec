"""Integrators' subscriptions to ticket events, and the fan-out of one event to each of them."""
from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from typing import Any, Optional
from urllib.parse import urlparse

from .. import clock
from ..errors import NotFound, Unprocessable
from ..settings import get_settings
from ..storage.models import Outbox, Setting
from . import outbox, providers

KEY = "webhooks"
DEMO = "demo"


def _stored() -> list[dict[str, Any]]:
    try:
        return list(Setting.get(KEY, consistent_read=True).value.get("subscriptions", []))
    except Setting.DoesNotExist:
        return []


def _save(subscriptions: list[dict[str, Any]], who: str) -> None:
    Setting(KEY, value={"subscriptions": subscriptions}, updated_by=who, updated_at=clock.now()).save()


def _public(subscription: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in subscription.items() if k != "secret"}


def check_url(url: str) -> Optional[str]:
    """Outside the local stage: https only, and never a private, loopback or link-local address (SSRF).

    Returns the checked address to connect to (None on the local stage, which posts to its sinks).
    """
    if get_settings().is_local:
        return None
    parsed = urlparse(url)
    if parsed.scheme != "https" or not parsed.hostname:
        raise Unprocessable("webhook URLs must be https")
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(parsed.hostname, parsed.port or 443,
                                                               type=socket.SOCK_STREAM)]
    except socket.gaierror:
        raise CannotResolve(f"cannot resolve {parsed.hostname}") from None
    for address in addresses:
        if not _routable(ipaddress.ip_address(address)):
            raise Unprocessable(f"{parsed.hostname} resolves to a non-public address")
    return addresses[0]


def _routable(ip) -> bool:
    """Globally routable (so not private, loopback, link-local, reserved or shared 100.64/10, which
    holds some clouds' metadata services), and no IPv6 form of an address that is not."""
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not _routable(embedded):
            return False
    return ip.is_global and not ip.is_multicast


class CannotResolve(Unprocessable):
    """The URL's name does not resolve now: refused when subscribing, retried when delivering."""


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST one delivery and return the status; never follows a redirect (a 3xx to a private address).

    Outside the local stage the connection goes to the address ``check_url`` approved, with the
    URL's name kept for TLS (SNI and the certificate check) and the Host header: resolving the
    name again to connect would let its DNS answer change in between (DNS rebinding).
    """
    address = check_url(url)
    if address is None:
        return providers.http().post(url, data=body, headers=headers, timeout=10, allow_redirects=False).status_code
    import certifi  # on first use (cold starts)
    import urllib3
    parsed = urlparse(url)
    pool = urllib3.HTTPSConnectionPool(address, parsed.port or 443, server_hostname=parsed.hostname,
                                       assert_hostname=parsed.hostname, cert_reqs="CERT_REQUIRED",
                                       ca_certs=certifi.where(), timeout=urllib3.Timeout(10), retries=False)
    path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
    try:
        return pool.urlopen("POST", path, body=body, headers={**headers, "Host": parsed.netloc},
                            redirect=False, retries=False).status
    finally:
        pool.close()


def listing() -> dict[str, Any]:
    return {"items": [_public(s) for s in _stored()], "next": None}


def subscribe(who: str, url: str, events: list[str]) -> dict[str, Any]:
    check_url(url)
    subscription = {"id": "wh_" + clock.new_id(), "url": url, "events": sorted(events),
                    "secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
                    "created_by": who, "created_at": clock.iso(clock.now())}
    _save(_stored() + [subscription], who)
    return subscription  # the only time the secret is shown


def unsubscribe(who: str, subscription_id: str) -> None:
    kept = [s for s in _stored() if s["id"] != subscription_id]
    if len(kept) == len(_stored()):
        raise NotFound(f"no subscription {subscription_id}")
    _save(kept, who)


def target(subscription_id: str) -> Optional[dict[str, Any]]:
    """URL and secret of one subscription (the demo integration lives in settings)."""
    settings = get_settings()
    if subscription_id == DEMO:
        return {"url": settings.integration_webhook_url, "secret": settings.jetdesk_signing_secret} \
            if settings.integration_webhook_url else None
    return next((s for s in _stored() if s["id"] == subscription_id), None)


def deliveries(intent: Outbox) -> list[Outbox]:
    """One delivery per subscriber (unsaved), with an id stable across retries (the webhook-id)."""
    event_type = intent.payload["type"]
    ids = ([DEMO] if get_settings().integration_webhook_url else []) + \
        [s["id"] for s in _stored() if event_type in s["events"]]
    return [outbox.child(intent, subscription_id, "webhook_delivery",
                         {**intent.payload, "subscription_id": subscription_id}) for subscription_id in ids]
