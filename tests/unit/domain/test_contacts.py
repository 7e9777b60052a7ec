import pytest

from chalicelib.domain import contacts


def test_phones_normalise_to_e164():
    assert contacts.phone("+1 (415) 555-0123").value == "+14155550123"


def test_a_phone_without_country_code_is_refused():
    with pytest.raises(contacts.InvalidContact):
        contacts.phone("4155550123")


def test_emails_are_lower_cased():
    assert contacts.parse("Jane.Doe@Example.com").identity == "email:jane.doe@example.com"


@pytest.mark.parametrize("raw, identity", [
    ("+33612345678", "phone:+33612345678"),
    ("phone:+33612345678", "phone:+33612345678"),
    ("telegram:123456", "telegram:123456"),
])
def test_any_typed_contact_parses_to_one_identity(raw, identity):
    assert contacts.parse(raw).identity == identity


@pytest.mark.parametrize("raw", ["anna@müller.de", "Anna@MÜLLER.de", "anna@xn--mller-kva.de", "ANNA@XN--MLLER-KVA.DE"])
def test_an_email_on_an_international_domain_is_one_identity_in_ascii_whichever_form_is_typed(raw):
    assert contacts.parse(raw).identity == "email:anna@xn--mller-kva.de"


def test_an_international_domain_that_is_no_valid_name_is_refused():
    with pytest.raises(contacts.InvalidContact):
        contacts.email("anna@mü ller.de".replace(" ", "\u200b"))   # a zero-width space in the name


@pytest.mark.parametrize("address", ["support@jetdesk.example.com", "Support+JD-7K3QX9AB@JetDesk.example.com",
                                     "JetDesk Support <support@jetdesk.example.com>"])
def test_a_mailbox_is_its_address_without_name_case_or_plus_tag(address):
    assert contacts.mailbox(address) == "support@jetdesk.example.com"


def test_unknown_handle_kinds_are_refused():
    with pytest.raises(contacts.InvalidContact):
        contacts.parse("myspace:bob")
