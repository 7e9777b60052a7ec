"""Integrators' subscriptions to ticket events, and the fan-out of one event to each of them."""
from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from typing import Any, Callable, Optional
from urllib.parse import urlparse

from .. import clock
from ..errors import Conflict, NotFound, Unprocessable
from ..settings import get_settings
from ..storage.models import Outbox, Setting
from ..storage.writes import written
from . import outbox, providers

KEY = "webhooks"
DEMO = "demo"
ATTEMPTS = 3  # optimistic writes of the subscriptions before a 409


def _item() -> Optional[Setting]:
    try:
        return Setting.get(KEY, consistent_read=True)
    except Setting.DoesNotExist:
        return None


def _subscriptions(item: Optional[Setting]) -> list[dict[str, Any]]:
    return list(item.value.get("subscriptions", [])) if item is not None else []


def _stored() -> list[dict[str, Any]]:
    return _subscriptions(_item())


def _change(who: str, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    """Save ``change`` of the subscriptions as read; when someone wrote them in between, read them
    again and redo it (a revoked endpoint is never written back, no new one is lost)."""
    for _ in range(ATTEMPTS):
        item = _item()
        if _write(item, change(_subscriptions(item)), who):
            return
    raise Conflict("the subscriptions kept changing while saving; try again")


def _write(read: Optional[Setting], subscriptions: list[dict[str, Any]], who: str) -> bool:
    """Put the subscriptions on condition that the item is still the one read: its revision, or no
    item yet. False when someone wrote it since."""
    if read is None:
        condition, revision = Setting.key.does_not_exist(), 1
    elif read.revision is None:  # written before revisions were kept
        condition, revision = Setting.revision.does_not_exist(), 1
    else:
        condition, revision = Setting.revision == read.revision, read.revision + 1
    item = Setting(KEY, value={"subscriptions": subscriptions}, updated_by=who, updated_at=clock.now(),
                   revision=revision)
    return written(lambda: item.save(condition=condition))


def _public(subscription: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in subscription.items() if k != "secret"}


def check_url(url: str) -> Optional[str]:
    """Outside the local stage: https only, and never a private, loopback or link-local address (SSRF).

    Returns the checked address to connect to (None on the local stage, which posts to its sinks).
    On every stage the port, when given, must be one from 1 to 65535.
    """
    parsed = urlparse(url)
    try:
        port = parsed.port
    except ValueError:  # out of range, or not a number
        port = 0
    if port == 0:
        raise Unprocessable("webhook URLs need a port from 1 to 65535")
    if get_settings().is_local:
        return None
    if parsed.scheme != "https" or not parsed.hostname:
        raise Unprocessable("webhook URLs must be https")
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(parsed.hostname, port or 443,
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
    _change(who, lambda subscriptions: subscriptions + [subscription])
    return subscription  # the only time the secret is shown


def unsubscribe(who: str, subscription_id: str) -> None:
    def without(subscriptions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = [s for s in subscriptions if s["id"] != subscription_id]
        if len(kept) == len(subscriptions):
            raise NotFound(f"no subscription {subscription_id}")
        return kept
    _change(who, without)


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
