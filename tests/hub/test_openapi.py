"""``/v1/openapi.json`` describes every endpoint the hub serves, and is a valid document."""

from __future__ import annotations

from openapi_spec_validator import validate


async def test_the_document_is_valid_openapi(hub):
    document = await (await hub.client.get("/v1/openapi.json")).json()
    validate(document)


async def test_every_route_is_described(hub):
    document = await (await hub.client.get("/v1/openapi.json")).json()
    described = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    served = set()
    for resource in hub.app.router.resources():
        path = resource.canonical
        if not (path.startswith("/v1/") or path in ("/healthz", "/readyz")):
            continue
        for route in resource:
            if route.method not in ("HEAD", "OPTIONS"):
                served.add((route.method, path))
    assert served == described
    expected = {
        ("GET", "/v1/availability"),
        ("POST", "/v1/escalations"),
        ("GET", "/v1/conversations/{conversation_id}"),
        ("POST", "/v1/conversations/{conversation_id}/messages"),
        ("POST", "/v1/conversations/{conversation_id}/typing"),
        ("POST", "/v1/conversations/{conversation_id}/read"),
        ("POST", "/v1/conversations/{conversation_id}/media"),
        ("POST", "/v1/conversations/{conversation_id}/close"),
        ("POST", "/v1/conversations/{conversation_id}/rating"),
        ("GET", "/v1/conversations/{conversation_id}/events"),
        ("GET", "/v1/media/{media_id}"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
    }
    assert expected <= described


async def test_request_bodies_and_errors_are_in_the_document(hub):
    document = await (await hub.client.get("/v1/openapi.json")).json()
    escalate = document["paths"]["/v1/escalations"]["post"]
    schema_ref = escalate["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"sessionId"}
    assert {"422", "413", "401"} <= set(escalate["responses"])
    events = document["paths"]["/v1/conversations/{conversation_id}/events"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]
