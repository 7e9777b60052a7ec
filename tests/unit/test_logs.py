"""What the logs name an inbound delivery by: a keyed reference, never its key."""
import dataclasses

from chalicelib import logs
from chalicelib.settings import override_settings

TELEGRAM = "telegram#5120384471:1842"   # a private chat's id is the user's Telegram id


def test_an_inbound_key_is_logged_as_its_channel_and_a_short_keyed_hash(settings):
    ref = logs.inbound_ref(TELEGRAM)
    channel, _, digest = ref.partition("#")
    assert channel == "telegram" and len(digest) == 16 and int(digest, 16) >= 0
    assert "5120384471" not in ref and "1842" not in ref


def test_the_same_key_always_gives_the_same_reference_and_another_key_another(settings):
    assert logs.inbound_ref(TELEGRAM) == logs.inbound_ref(TELEGRAM)
    assert logs.inbound_ref(TELEGRAM) != logs.inbound_ref("telegram#5120384471:1843")


def test_the_reference_is_keyed_by_the_session_secret_so_nobody_hashes_phone_numbers_to_find_it(settings):
    ours = logs.inbound_ref(TELEGRAM)
    try:
        override_settings(dataclasses.replace(settings, session_secret="another-session-secret-long-enough-x"))
        assert logs.inbound_ref(TELEGRAM) != ours
    finally:
        override_settings(settings)
