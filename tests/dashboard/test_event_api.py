"""The HTTP event API: events of every body type in, judged by the pipeline's decoder, bad ones
dead-lettered; producer keys only; size, rate and content checks before anything is read; never
a 500 for input."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.live.bus import arrow_bytes
from tests.dashboard.browser import serve
from tests.layers.conftest import iot_events

NDJSON, ARROW = "application/x-ndjson", "application/vnd.apache.arrow.stream"


@pytest.fixture
def keys_file(tmp_path):
    return tmp_path / "api_keys.yaml"


@pytest.fixture
def app(demo_twin, bus, keys_file):
    from dashboard.app import create_app

    return create_app(demo_twin, bus=bus, keys_file=keys_file)


@pytest.fixture
def client(app):
    return app.server.test_client()


def producer(keys_file, name: str = "box", **kw) -> dict:
    """Headers carrying a new producer key."""
    from dashboard.apikeys import add

    return {"X-API-Key": add(keys_file, name, "producer", **kw)}


def events(twin, n: int, seed: int = 1, prefix: str = "e") -> list[dict]:
    return iot_events(twin, n, np.random.default_rng(seed), prefix=prefix)


def as_body(rows: list[dict], content_type: str) -> bytes:
    if content_type == NDJSON:
        return "\n".join(json.dumps(r) for r in rows).encode()
    if content_type == ARROW:
        return arrow_bytes(pa.Table.from_pylist(rows))
    return json.dumps(rows if len(rows) != 1 else rows[0]).encode()


def post(client, rows_or_body, headers, content_type: str = "application/json",
         kind: str = "iot"):
    data = rows_or_body if isinstance(rows_or_body, bytes) else as_body(rows_or_body,
                                                                      content_type)
    return client.post(f"/api/v1/events/{kind}", data=data, headers=headers,
                       content_type=content_type)


# -- accepted ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["application/json", NDJSON, ARROW])
@pytest.mark.parametrize("n", [1, 5])
def test_events_of_every_body_type_are_accepted_into_the_stream(client, bus, demo_twin,
                                                                keys_file, content_type, n):
    reply = post(client, events(demo_twin, n), producer(keys_file), content_type)
    assert reply.status_code == 202, reply.get_json()
    assert reply.get_json() | {"request": None} == {"accepted": n, "dead": 0, "reasons": [],
                                                    "request": None}
    assert bus.length("iot") >= 1 and bus.dead_count() == 0


def test_a_request_is_kept_as_one_batch_entry_typed_columns_and_all(client, bus, demo_twin,
                                                             keys_file):
    rows = events(demo_twin, 50)
    table = pa.table({"id": [r["id"] for r in rows], "ts": [float(r["ts"]) for r in rows],
                      "lat": [float(r["lat"]) for r in rows], "lng": [float(r["lng"]) for r in rows],
                      "sensor": [r["sensor"] for r in rows], "metric": [r["metric"] for r in rows],
                      "value": [float(r["value"]) for r in rows]})
    reply = post(client, arrow_bytes(table), producer(keys_file), ARROW)
    assert reply.get_json()["accepted"] == 50 and bus.length("iot") == 1


def _counted(bus, twin) -> float:
    """Events the ingest worker counts once it has read everything."""
    from layers.live import snapshot
    from layers.live.worker import Worker

    Worker(bus, twin, consumer="w", history=False).drain()
    return float(snapshot.read(bus, "iot.count", "24h").sum())


def test_accepted_events_are_counted_once_by_ingest_even_when_resent(client, bus, demo_twin,
                                                                     keys_file):
    key, rows = producer(keys_file), events(demo_twin, 40)
    for _ in range(2):
        assert post(client, rows, key, NDJSON).status_code == 202
    assert _counted(bus, demo_twin) == 40


# -- dead letters -------------------------------------------------------------------------------------
def test_bad_events_are_dead_lettered_and_never_cost_the_good_ones(client, bus, demo_twin,
                                                                   keys_file):
    good = events(demo_twin, 3)
    bad = [dict(good[0], id="no-lat", lat=None), dict(good[0], id="m", metric="radon"),
           dict(good[0], id="nested", value={"a": 1}), dict(good[0], id="long", sensor="x" * 5000)]
    rows = [good[0], bad[0], good[1], bad[1], bad[2], good[2], bad[3]]
    rows = [{k: v for k, v in r.items() if v is not None} for r in rows]
    body = post(client, rows, producer(keys_file, "cam-7"), NDJSON).get_json()
    assert (body["accepted"], body["dead"]) == (3, 4)
    assert [r["row"] for r in body["reasons"]] == [1, 3, 4, 6]
    assert "missing field 'lat'" in body["reasons"][0]["reason"]
    assert "unknown metric" in body["reasons"][1]["reason"]
    assert "JSON object" in body["reasons"][2]["reason"]
    assert "over 4096 bytes" in body["reasons"][3]["reason"]
    dead = bus.dead_letters()
    assert len(dead) == 4 and _counted(bus, demo_twin) == 3 and bus.dead_count() == 4
    assert {d["source"] for d in dead} == {"cam-7"} and {d["request"] for d in dead} == {
        body["request"]}
    long = next(d for d in dead if d["row"] == "6")
    assert len(long["sensor"]) == 256 and len(long["sha256"]) == 64 and int(long["bytes"]) > 5000


def test_numbers_and_numeric_text_may_mix_in_one_field(client, bus, demo_twin, keys_file):
    rows = events(demo_twin, 4)
    rows[1]["lat"], rows[2]["value"] = float(rows[1]["lat"]), 7
    rows[3]["flag"] = True  # JSON true is no event field value
    body = post(client, rows, producer(keys_file)).get_json()
    assert (body["accepted"], body["dead"]) == (3, 1) and "true/false" in body["reasons"][0][
        "reason"]
    assert _counted(bus, demo_twin) == 3


def test_at_most_twenty_reasons_are_returned_but_every_bad_event_is_counted(client, demo_twin,
                                                                           keys_file):
    rows = [dict(r, metric="radon") for r in events(demo_twin, 30)]
    body = post(client, rows, producer(keys_file)).get_json()
    assert (body["accepted"], body["dead"], len(body["reasons"])) == (0, 30, 20)


# -- keys -------------------------------------------------------------------------------------------
def test_no_key_or_a_wrong_key_is_refused_with_401(client, demo_twin, keys_file):
    rows = events(demo_twin, 1)
    assert post(client, rows, {}).status_code == 401
    assert post(client, rows, {"X-API-Key": "cok_wrong"}).status_code == 401
    key = producer(keys_file)["X-API-Key"]
    reply = client.post(f"/api/v1/events/iot?api_key={key}", json=rows[0])
    assert reply.status_code == 401 and "X-API-Key" in reply.get_json()["error"]


def test_a_revoked_producer_key_is_refused_from_the_next_request_on(client, demo_twin,
                                                                     keys_file):
    from dashboard.apikeys import revoke

    key, rows = producer(keys_file, "old-box"), events(demo_twin, 1)
    assert post(client, rows, key).status_code == 202
    revoke(keys_file, "old-box")
    assert post(client, rows, key).status_code == 401


@pytest.mark.parametrize("role", ["admin", "commander", "planner"])
def test_a_key_of_a_reading_role_may_not_post_events(client, demo_twin, keys_file, role):
    from dashboard.apikeys import add

    reply = post(client, events(demo_twin, 1), {"X-API-Key": add(keys_file, "r", role)})
    assert reply.status_code == 403 and "producer" in reply.get_json()["error"]


def test_a_producer_key_posts_only_its_kinds(client, demo_twin, keys_file):
    reply = post(client, events(demo_twin, 1), producer(keys_file, kinds=["video"]))
    assert reply.status_code == 403 and "video" in reply.get_json()["error"]


def test_a_producer_key_reads_nothing(client, demo_twin, bus, keys_file):
    from tests.loop.test_open311_cap import _alert

    key = producer(keys_file)
    assert client.get(f"/cap/alerts/{_alert(demo_twin, bus).public_id}.xml",
                      headers=key).status_code == 403
    assert client.get("/", headers=key).status_code == 302  # pages: to the login


# -- sizes, types, rates -----------------------------------------------------------------------------
def test_a_body_over_the_limit_is_refused_by_its_length_before_it_is_read(client, demo_twin,
                                                                          keys_file,
                                                                          monkeypatch):
    monkeypatch.setenv("CITYOPS_HTTP_MAX_BYTES", "1000")
    reply = post(client, events(demo_twin, 20), producer(keys_file), NDJSON)
    assert reply.status_code == 413 and "1,000 byte limit" in reply.get_json()["error"]


@pytest.mark.parametrize(("content_type", "headers"), [
    ("text/plain", {}), ("application/xml", {}),
    ("application/json", {"Content-Encoding": "gzip"})])
def test_other_content_types_and_encodings_are_refused_with_415(client, demo_twin, keys_file,
                                                                content_type, headers):
    reply = post(client, b"{}", producer(keys_file) | headers, content_type)
    assert reply.status_code == 415


def test_a_source_over_its_rate_gets_429_with_retry_after_and_others_do_not(client, demo_twin,
                                                                           keys_file):
    slow, other = producer(keys_file, "slow", rate=0.001, burst=3), producer(keys_file, "b")
    rows = events(demo_twin, 1)
    assert [post(client, rows, slow).status_code for _ in range(4)] == [202, 202, 202, 429]
    refused = post(client, rows, slow)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert post(client, rows, other).status_code == 202


def test_the_rate_is_shared_by_every_dashboard_process_on_the_bus(demo_twin, bus, keys_file):
    from dashboard.app import create_app

    key, rows = producer(keys_file, "shared", rate=0.001, burst=2), events(demo_twin, 1)
    one, two = (create_app(demo_twin, bus=bus, keys_file=keys_file).server.test_client()
                for _ in range(2))
    assert [post(c, rows, key).status_code for c in (one, two, one, two)] == [202, 202, 429, 429]


def test_a_batch_larger_than_the_keys_burst_is_refused_with_413(client, demo_twin, keys_file):
    reply = post(client, events(demo_twin, 5), producer(keys_file, burst=4), NDJSON)
    assert reply.status_code == 413 and "burst of 4" in reply.get_json()["error"]


@pytest.mark.parametrize(("content_type", "body", "words"), [
    ("application/json", b"", "empty"), ("application/json", b"{", "not JSON"),
    ("application/json", b"\xff\xfe", "not UTF-8"), ("application/json", b"42", "object or"),
    ("application/json", b"[]", "no events"), ("application/json", b"NaN", "not JSON"),
    ("application/json", b"[" * 100_000, "not JSON"), (NDJSON, b"\n\n", "no events"),
    (ARROW, b"ARROW1\x00\x00garbage", "not an Arrow IPC stream"),
])
def test_an_unreadable_body_is_400_and_dead_lettered(client, bus, keys_file, content_type,
                                                     body, words):
    reply = post(client, body, producer(keys_file, "junk"), content_type)
    assert reply.status_code == 400 and words in reply.get_json()["error"]
    if body:
        dead = bus.dead_letters()[-1]
        assert dead["source"] == "junk" and dead["bytes"] == str(len(body))


def test_an_arrow_bomb_is_refused_undecoded_with_413(demo_twin, bus, keys_file,
                                                     monkeypatch):
    from dashboard.app import create_app

    monkeypatch.setenv("CITYOPS_MAX_DECODED_BYTES", "100000")
    client = create_app(demo_twin, bus=bus, keys_file=keys_file).server.test_client()
    table = pa.table({"id": ["x" * 1000] * 1000})  # 1 MB decoded, a few KB on the wire
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema,
                           options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write(table)
    body = sink.getvalue().to_pybytes()
    reply = post(client, body, producer(keys_file), ARROW)
    assert len(body) < 20_000 and reply.status_code == 413
    assert "decompresses to" in reply.get_json()["error"]


def test_an_unknown_kind_and_an_unknown_path_answer_404_json(client, keys_file):
    assert post(client, b"{}", producer(keys_file), kind="weather").status_code == 404
    for path in ("/api/", "/api/v2/events/iot", "/api/v1/nope"):
        reply = client.get(path)
        assert reply.status_code == 404 and reply.mimetype == "application/json", path
    reply = client.get("/api/v1/events/iot")
    assert reply.status_code in (404, 405) and reply.mimetype == "application/json"


_JSON = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers()
                     | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@pytest.fixture
def fuzz_key(keys_file):
    return producer(keys_file, "fuzz")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300) | _JSON.map(lambda v: json.dumps(v).encode()),
       content_type=st.sampled_from(["application/json", NDJSON, ARROW]),
       kind=st.sampled_from(["iot", "video", "incident"]))
def test_junk_of_every_content_type_never_gets_a_500(client, fuzz_key, body, content_type,
                                                     kind):
    reply = post(client, body, fuzz_key, content_type, kind)
    assert reply.status_code in (202, 400, 413), (reply.status_code, reply.data[:200])


# -- through the real server -------------------------------------------------------------------------
def test_events_posted_to_the_served_dashboard_reach_redis(app, bus, demo_twin, keys_file):
    url, server = serve(app)
    try:
        key = producer(keys_file)
        reply = requests.post(f"{url}/api/v1/events/iot", headers=key | {
            "Content-Type": NDJSON}, data=as_body(events(demo_twin, 200), NDJSON), timeout=60)
        assert reply.status_code == 202 and reply.json()["accepted"] == 200
        assert reply.headers["X-Request-Id"] == reply.json()["request"]
        assert _counted(bus, demo_twin) == 200
    finally:
        server.shutdown()


def test_a_chunked_body_is_cut_at_the_limit_by_the_served_dashboard(app, demo_twin, keys_file,
                                                                    monkeypatch):
    monkeypatch.setenv("CITYOPS_HTTP_MAX_BYTES", "5000")
    url, server = serve(app)
    try:
        line = (json.dumps(events(demo_twin, 1)[0]) + "\n").encode()
        chunks = (line for _ in range(10_000))  # no Content-Length: sent chunked
        reply = requests.post(f"{url}/api/v1/events/iot", data=chunks, timeout=60,
                              headers=producer(keys_file) | {"Content-Type": NDJSON})
        assert reply.status_code == 413
    finally:
        server.shutdown()
