"""The console and chat pages: served by the app as static files, under a strict Content-Security-Policy."""
from html.parser import HTMLParser

import pytest

from chalicelib import web


class Markup(HTMLParser):
    """What a page's HTML asks the browser to run or load."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts, self.inline, self.handlers, self.styles = [], [], [], []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.handlers += [name for name in attrs if name.startswith("on")]
        self.styles += ["style attribute"] if "style" in attrs else []
        self.styles += ["<style>"] if tag == "style" else []
        if tag == "script":
            self.scripts.append(attrs.get("src"))
            self._in_script = True

    def handle_endtag(self, tag):
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(data)


@pytest.mark.parametrize("path", ["/console", "/chat"])
def test_a_page_is_html_with_a_strict_policy_and_no_inline_script(http, path):
    response = http.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'" and policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    markup = Markup()
    markup.feed(response.body.decode())
    assert markup.scripts and all(src and src.startswith("assets/") for src in markup.scripts)
    assert markup.inline == [] and markup.handlers == [] and markup.styles == []


def test_the_scripts_a_page_loads_are_served_with_their_type(http):
    markup = Markup()
    markup.feed(http.get("/console").body.decode())
    for src in markup.scripts + ["assets/dom.js", "assets/jetdesk.css"]:
        response = http.get("/" + src)
        assert response.status_code == 200, src
        expected = "text/css" if src.endswith(".css") else "text/javascript"
        assert response.headers["Content-Type"].startswith(expected)


def test_the_pages_never_write_markup_from_data():
    for script in web.ROOT.glob("*.js"):
        text = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{script.name} uses {sink}"


@pytest.mark.parametrize("name", ["missing.js", "console.html", ".hidden.js", "..%2Fapp.py", "__init__.py"])
def test_only_existing_scripts_styles_and_icons_are_assets(http, name):
    response = http.get("/assets/" + name)
    assert response.status_code == 404
    assert response.json_body["error"]["code"] == "not_found"


def test_the_local_stage_lists_the_seeded_agents_and_mints_their_tokens(http):
    agents = http.get("/local/agents").json_body["items"]
    assert {a["id"]: a["role"] for a in agents} == {"alice": "agent", "bob": "agent", "sam": "supervisor"}
    token = http.post("/local/agents/bob/token").json_body["token"]
    queues = http.get("/queues", headers={"Authorization": "Bearer " + token}).json_body["items"]
    assert [q["name"] for q in queues] == ["general"]
    assert http.post("/local/agents/mallory/token").status_code == 404


def test_tokens_are_minted_only_on_the_local_stage(stack):
    import dataclasses

    from chalicelib.errors import Forbidden
    from chalicelib.services import agents
    with pytest.raises(Forbidden):
        agents.local_token(dataclasses.replace(stack.settings, stage="prod"), "sam")
