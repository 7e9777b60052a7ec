import pytest

from chalicelib.auth import status_links
from chalicelib.auth.tokens import issue as agent_token
from chalicelib.errors import Unauthorized


def test_a_link_opens_its_one_ticket_for_its_sender(settings):
    link = status_links.verify(settings, status_links.issue(settings, "T1", "N1"))
    assert (link.ticket_id, link.sender) == ("T1", "N1")


def test_a_link_expires_after_the_configured_days(settings):
    old = status_links.issue(settings, "T1", "N1", now=1_000_000_000)
    with pytest.raises(Unauthorized, match="expired"):
        status_links.verify(settings, old)


def test_agent_tokens_and_edited_links_are_not_links(settings):
    with pytest.raises(Unauthorized):
        status_links.verify(settings, agent_token(settings, "alice"))
    token = status_links.issue(settings, "T1", "N1")
    with pytest.raises(Unauthorized, match="not valid"):
        status_links.verify(settings, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_the_url_is_on_our_public_base(settings):
    assert status_links.url(settings, "T1", "N1").startswith(settings.public_base_url + "/help/status?token=")


def test_what_holds_the_integrators_signing_secret_cannot_mint_links_or_chat_sessions(settings):
    import dataclasses

    from channels import chat
    from channels.base import RawRequest
    integrator = dataclasses.replace(settings, session_secret=settings.jetdesk_signing_secret)
    with pytest.raises(Unauthorized):
        status_links.verify(settings, status_links.issue(integrator, "T1", "N1"))
    token, _ = chat.issue(integrator, "C1", "Mallory", None)
    with pytest.raises(Unauthorized):
        chat.verify(RawRequest("GET", "/channels/chat/messages", {"Authorization": "Bearer " + token}, b""), settings)
