"""The published OpenAPI document: valid 3.1, and every route of the app in it (and nothing else)."""
from openapi_spec_validator import validate

from chalicelib import openapi


def test_the_document_is_valid_openapi_3_1():
    validate(openapi.document())


def test_every_route_of_the_app_is_documented_and_nothing_more():
    import app
    routes = {(method.lower(), path) for path, methods in app.app.routes.items() for method in methods}
    documented = {(method, path) for path, ops in openapi.document()["paths"].items() for method in ops}
    assert routes == documented


def test_request_bodies_use_the_schemas_the_app_validates_with():
    body = openapi.document()["paths"]["/tickets/{ticket_id}/replies"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/reply"}
    event = openapi.document()["components"]["schemas"]["integration_event"]
    assert event["allOf"][0]["then"]["properties"]["data"]["$ref"].startswith("#/components/schemas/")
