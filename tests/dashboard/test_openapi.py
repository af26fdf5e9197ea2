"""The event API's OpenAPI document is valid OpenAPI 3.1 (openapi-spec-validator), and the served
API's real answers, good and bad, match it (openapi-core validates each response)."""

from __future__ import annotations

import json

import pytest
import requests

from tests.dashboard.browser import serve
from tests.dashboard.test_event_api import ARROW, NDJSON, as_body, events, producer


def test_the_document_is_valid_openapi():
    from openapi_spec_validator import validate

    from dashboard.openapi import document

    validate(document("http://127.0.0.1:8050"))


def test_the_document_lists_the_vocabularies_of_the_event_contract():
    from dashboard.openapi import document
    from layers.live import schema as S

    schemas = document()["components"]["schemas"]
    assert schemas["iot"]["properties"]["metric"]["enum"] == list(S.METRICS)
    assert schemas["incident"]["required"] == list(S.REQUIRED["incident"])
    assert schemas["vehicle"]["properties"]["detection"]["enum"] == list(S.DETECTIONS)


def test_every_kind_of_the_contract_has_its_event_schema():
    from dashboard.openapi import document
    from layers.live import schema as S

    assert set(S.KINDS) <= set(document()["components"]["schemas"])


LIMIT = 8000  # bytes of a body (a small limit, so the 413 costs nothing)


@pytest.fixture
def served(demo_twin, bus, tmp_path, monkeypatch):
    from dashboard.app import create_app

    monkeypatch.setenv("CITYOPS_HTTP_MAX_BYTES", str(LIMIT))
    keys_file = tmp_path / "api_keys.yaml"
    url, server = serve(create_app(demo_twin, bus=bus, keys_file=keys_file))
    yield url, keys_file
    server.shutdown()


def _calls(twin, keys_file) -> list[tuple[str, dict, bytes, int]]:
    """(content type, headers, body, expected status) of answers of every documented kind."""
    key, slow = producer(keys_file), producer(keys_file, "slow", rate=0.001, burst=1)
    from dashboard.apikeys import add

    reader = {"X-API-Key": add(keys_file, "reader", "commander")}
    good = events(twin, 3)
    mixed = [good[0], dict(good[1], metric="radon")]
    return [
        ("application/json", key, as_body(good, "application/json"), 202),
        (NDJSON, key, as_body(mixed, NDJSON), 202),
        (ARROW, key, as_body(good, ARROW), 202),
        ("application/json", key, b"{broken", 400),
        ("application/json", {}, as_body(good, "application/json"), 401),
        ("application/json", reader, as_body(good, "application/json"), 403),
        ("text/csv", key, b"a,b", 415),
        ("application/json", slow, as_body(good[:1], "application/json"), 202),
        ("application/json", slow, as_body(good[:1], "application/json"), 429),
        ("application/json", key, b" " * (LIMIT + 1), 413),
    ]


def test_every_answer_of_the_served_api_matches_the_document(served, demo_twin):
    from openapi_core import OpenAPI
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

    url, keys_file = served
    spec = OpenAPI.from_dict(requests.get(f"{url}/api/v1/openapi.json", timeout=30).json())
    seen = []
    for content_type, headers, body, status in _calls(demo_twin, keys_file):
        reply = requests.post(f"{url}/api/v1/events/iot", data=body, timeout=60,
                              headers=headers | {"Content-Type": content_type})
        assert reply.status_code == status, (status, reply.text[:300])
        spec.validate_response(RequestsOpenAPIRequest(reply.request),
                               RequestsOpenAPIResponse(reply))
        seen.append(status)
    unknown = requests.post(f"{url}/api/v1/events/weather", json={}, timeout=30)
    spec.validate_response(RequestsOpenAPIRequest(unknown.request),
                           RequestsOpenAPIResponse(unknown))
    assert unknown.status_code == 404 and sorted(set(seen)) == [202, 400, 401, 403, 413, 415, 429]


def test_a_valid_json_request_validates_against_the_document(served, demo_twin):
    from openapi_core import OpenAPI
    from openapi_core.contrib.requests import RequestsOpenAPIRequest

    url, _ = served
    spec = OpenAPI.from_dict(requests.get(f"{url}/api/v1/openapi.json", timeout=30).json())
    prepared = requests.Request("POST", f"{url}/api/v1/events/iot",
                                headers={"X-API-Key": "cok_x"},
                                data=json.dumps(events(demo_twin, 2)),
                                ).prepare()
    prepared.headers["Content-Type"] = "application/json"
    spec.validate_request(RequestsOpenAPIRequest(prepared))
