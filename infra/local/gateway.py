"""`chalice local` with the gateway responses we configure in AWS.

API Gateway's own refusals (no token, bad token, unknown route) are reshaped into
the JetDesk error body, as the GatewayResponses of the deployed API do.
"""
from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    NotAuthorizedError,
)

from . import stage


def _reshaped(status: int, code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()


# API Gateway's refusals of a path it has no route for: without an Authorization header, and with one
# (read as a SigV4 header it lacks the Credential; the deployed API answers both as 404 too)
_NO_ROUTE = (b"Missing Authentication Token", b"Authorization header requires 'Credential'")


class JetDeskGateway(LocalGateway):
    def handle_request(self, method, path, headers, body):
        try:
            return super().handle_request(method, path, headers, body)
        except LocalGatewayException as exc:
            if exc.CODE == 403 and any(refusal in (exc.body or b"") for refusal in _NO_ROUTE):
                exc.CODE = 404  # type: ignore[misc]
                exc.body = _reshaped(404, "not_found", f"no route {method} {path.split('?')[0]}")
            else:
                code = {401: "unauthorized", 403: "forbidden"}.get(exc.CODE, "gateway_error")
                message = "missing or invalid bearer token" if exc.CODE == 401 else code
                exc.body = _reshaped(exc.CODE, code, message)
            exc.headers = {k: v for k, v in exc.headers.items() if k.lower() != "x-amzn-errortype"}
            exc.headers["Content-Type"] = "application/json"
            raise
        except Exception as exc:  # the authorizer raised: API Gateway answers 401
            if str(exc) == "Unauthorized":
                raise NotAuthorizedError({"Content-Type": "application/json"},
                                         _reshaped(401, "unauthorized", "missing or invalid bearer token")) from None
            raise


class _Handler(ChaliceRequestHandler):
    def __init__(self, request, client_address, server, app_object, config) -> None:
        self.local_gateway = JetDeskGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def log_request(self, code="-", size="-") -> None:
        # The query string may carry a customer's contact: log the path only.
        self.log_message("%s %s %s", self.command, self.path.split("?")[0], code)


def local_server(app_obj, host: str, port: int) -> LocalDevServer:
    """What chalice.local.create_local_server does (thread-local requests), with our handler."""
    if not isinstance(app_obj, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app_obj.__class__)
        app_obj.__class__ = CustomLocalChalice
    config = Config.create(chalice_stage="local", app_name="jetdesk",
                           config_from_disk=stage.chalice_config(), project_dir=str(stage.PROJECT))
    return LocalDevServer(app_obj, config, host, port, handler_cls=_Handler)
