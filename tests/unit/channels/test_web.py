import pytest
from urllib3 import encode_multipart_formdata

from chalicelib.errors import Unprocessable, UnsupportedMediaType
from channels import web
from channels.base import RawRequest


def request(body: bytes, content_type: str) -> RawRequest:
    return RawRequest("POST", "/help", {"Content-Type": content_type}, body)


FIELDS = {"nonce": "01JDNONCE0000000000000001", "name": " Ana ", "email": "Ana@Example.com", "booking_ref": "ab12cd",
          "subject": "Refund", "message": "Where is my refund?", "website": ""}


def test_a_multipart_form_gives_its_fields_stripped_and_its_file():
    file = ("attachment", ("a.pdf", b"%PDF", "application/pdf"))
    body, content_type = encode_multipart_formdata(list(FIELDS.items()) + [file])
    posted = web.parse(request(body, content_type))
    assert posted.fields["name"] == "Ana" and not web.is_bot(posted)
    [file] = posted.files
    assert (file.name, file.content_type, file.size, file.content) == ("a.pdf", "application/pdf", 4, b"%PDF")


def test_no_file_chosen_is_no_attachment_and_a_filled_honeypot_is_a_bot():
    body, content_type = encode_multipart_formdata(list({**FIELDS, "website": "x"}.items())
                                                   + [("attachment", ("", b"", "application/octet-stream"))])
    posted = web.parse(request(body, content_type))
    assert posted.files == [] and web.is_bot(posted)


def test_the_form_is_one_new_ticket_with_the_typed_contacts_unverified():
    posted = web.parse(request(b"&".join(f"{k}={v}".encode() for k, v in FIELDS.items()), web.FORM))
    message = web.normalize(posted, "01TICKET")
    assert message.dedup_key == "web#01JDNONCE0000000000000001" and message.new_ticket_id == "01TICKET"
    assert (message.sender_kind, message.sender) == ("web", "01JDNONCE0000000000000001")
    assert message.unverified_contacts == (("email", "ana@example.com"), ("booking", "AB12CD"))


def test_other_bodies_are_refused():
    with pytest.raises(UnsupportedMediaType):
        web.parse(request(b"{}", "application/json"))
    with pytest.raises(Unprocessable):
        web.parse(request(b"--x\r\nbroken", "multipart/form-data; boundary=x"))
