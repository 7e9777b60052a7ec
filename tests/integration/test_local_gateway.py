"""The local gateway (infra/local/gateway.py) answers API Gateway's own refusals as the deployed
GatewayResponses do (infra/cloudformation.py): in our error shape, an unknown route a 404."""
from __future__ import annotations

import json

import pytest

from .conftest import bearer


@pytest.fixture
def gateway(stack):
    from chalice.config import Config
    from chalice.local import LocalGatewayException

    from infra.local import stage
    from infra.local.gateway import JetDeskGateway
    local = JetDeskGateway(stack.app.app, Config.create(chalice_stage="local", app_name="jetdesk",
                                                         config_from_disk=stage.chalice_config(),
                                                         project_dir=str(stage.PROJECT)))

    def call(method: str, path: str, headers: dict | None = None) -> tuple[int, dict, dict]:
        try:
            answer = local.handle_request(method, path, {"host": "127.0.0.1:8000", **(headers or {})}, b"")
            status, answer_headers, body = answer["statusCode"], answer["headers"], answer["body"]
        except LocalGatewayException as exc:
            status, answer_headers, body = exc.CODE, exc.headers, exc.body
        return status, {k.lower(): v for k, v in answer_headers.items()}, json.loads(body)
    return call


@pytest.mark.parametrize("agent", [None, "alice"])
def test_an_unknown_route_is_404_not_found_with_or_without_a_bearer_token(stack, gateway, agent):
    headers = bearer(stack.settings, agent) if agent else {}
    status, answer_headers, body = gateway("GET", "/tickets/x/y/z", headers)
    assert status == 404 and body["error"]["code"] == "not_found" and body["error"]["details"] == []
    assert answer_headers["content-type"] == "application/json" and "x-amzn-errortype" not in answer_headers
    assert not agent or headers["Authorization"].split()[1] not in json.dumps(body)  # never echoes the token


def test_an_agent_route_without_a_token_is_401_in_our_error_shape(gateway):
    status, _, body = gateway("GET", "/queues")
    assert status == 401 and body["error"]["code"] == "unauthorized"
