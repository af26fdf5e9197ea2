"""Bad input never stops the worker: it lands in the dead-letter stream with a reason."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layers.keys import KINDS
from layers.live import snapshot
from layers.live.bus import connect
from layers.live.worker import Worker, stats
from layers.testing import raw
from tests.layers.conftest import iot_events

NOW = time.time()


def _good(twin, kind: str, i: int) -> dict:
    lat, lng = twin.centers
    base = {"id": f"g{i}", "ts": repr(NOW - 30), "lat": repr(float(lat[i % len(lat)])),
            "lng": repr(float(lng[i % len(lng)]))}
    extra = {"iot": {"sensor": "S", "metric": "pm25", "value": "12.5"},
             "video": {"camera": "C", "label": "person", "count": "2", "confidence": "0.9"},
             "incident": {"source": "hotline", "category": "noise", "severity": "2",
                          "text": "噪音"},
             "vehicle": {"vehicle": "V1", "heading": "90", "speed_kmh": "30",
                         "detection": "garbage", "confidence": "0.8"}}[kind]
    return {**base, **extra}


CORRUPTIONS = {  # name -> (field, bad value or None to drop the field)
    "missing id": ("id", None), "missing ts": ("ts", None), "missing lat": ("lat", None),
    "empty lng": ("lng", ""), "unparsable lat": ("lat", "39,1"), "nan lat": ("lat", "nan"),
    "inf lng": ("lng", "inf"), "lat out of range": ("lat", "91"),
    "lng out of range": ("lng", "-181"), "outside the twin": ("lat", "10.0"),
    "unparsable ts": ("ts", "yesterday"), "future ts": ("ts", repr(NOW + 3600)),
    "ancient ts": ("ts", repr(NOW - 3 * 86400)), "unknown crs": ("crs", "epsg3857"),
    "long id": ("id", "x" * 200), "fifty years ahead": ("ts", repr(NOW + 50 * 365 * 86400)),
    "ts 1e308": ("ts", "1e308"), "oversized field": ("note", "x" * 5000),
}
KIND_CORRUPTIONS = {
    "iot": {"unknown metric": ("metric", "radiation"), "bad value": ("value", "high"),
            "nan value": ("value", "NaN"), "value out of range": ("value", "1e300")},
    "video": {"unknown label": ("label", "unicorn"), "negative count": ("count", "-1"),
              "bad confidence": ("confidence", "1.5"), "count 1e300": ("count", "1e300")},
    "incident": {"unknown category": ("category", "ufo"), "unknown source": ("source", "x"),
                 "severity 5": ("severity", "5"), "oversized text": ("text", "长" * 1001)},
    "vehicle": {"unknown detection": ("detection", "dragon"), "heading 361": ("heading", "361"),
                "speed 1e300": ("speed_kmh", "1e300"), "bad confidence": ("confidence", "2")},
}


def _corrupt(twin, kind: str, i: int, name: str) -> dict:
    field, value = {**CORRUPTIONS, **KIND_CORRUPTIONS[kind]}[name]
    event = _good(twin, kind, i)
    event["id"] = f"bad{i}"
    if value is None:
        event.pop(field)
    else:
        event[field] = value
    return event


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_bad_event_is_dead_lettered_with_its_reason(bus, twin, kind):
    names = list(CORRUPTIONS) + list(KIND_CORRUPTIONS[kind])
    bad = [_corrupt(twin, kind, i, name) for i, name in enumerate(names)]
    good = [_good(twin, kind, 1000 + i) for i in range(20)]
    for i, g in enumerate(good):
        g["id"] = f"good{i}"
    bus.publish(kind, bad + good)
    Worker(bus, twin, consumer="w").drain()
    dead = raw(bus).xrange(bus.keys.dead)
    assert len(dead) == len(bad)
    reasons = {}
    for _, fields in dead:
        assert fields[b"reason"] and fields[b"stream"] == bus.stream(kind).encode()
        reasons[fields.get(b"id", b"?")] = fields[b"reason"].decode()
    assert "missing field 'ts'" in reasons[b"bad1"]
    assert "outside the twin" in reasons[b"bad9"]
    assert "future" in reasons[b"bad11"]
    assert snapshot.read(bus, f"{kind}.count", "1h").sum() == 20


def test_a_broken_arrow_batch_is_dead_lettered_and_the_rest_counted(bus, twin):
    good = iot_events(twin, 50, np.random.default_rng(0))
    raw(bus).xadd(bus.stream("iot"), {"arrow": b"\x00not arrow at all"})
    bus.publish("iot", good)
    raw(bus).xadd(bus.stream("iot"), {"arrow": b"ARROW1\x00\x00garbage"})
    Worker(bus, twin, consumer="w").drain()
    dead = raw(bus).xrange(bus.keys.dead)
    assert len(dead) == 2 and all(b"broken Arrow batch" in f[b"reason"] for _, f in dead)
    assert snapshot.read(bus, "iot.count", "1h").sum() == 50


def test_bad_rows_of_an_arrow_batch_are_dead_lettered_one_by_one(bus, twin):
    import pyarrow as pa

    lat, lng = twin.centers
    table = pa.table({"id": ["a", "b", "c"], "ts": [NOW, NOW, NOW], "lat": [lat[0], 95.0, lat[2]],
                      "lng": [lng[0], lng[1], lng[2]], "camera": ["C"] * 3,
                      "label": ["person", "person", "dragon"]})
    bus.publish("video", table, batch=10)
    Worker(bus, twin, consumer="w").drain()
    dead = {f[b"id"]: f for _, f in raw(bus).xrange(bus.keys.dead)}
    assert set(dead) == {b"b", b"c"}
    assert b"lat" in dead[b"b"][b"reason"] and b"label" in dead[b"c"][b"reason"]
    assert dead[b"c"][b"row"] == b"2"
    assert snapshot.read(bus, "video.count", "1h").sum() == 1


_kind = st.sampled_from(KINDS)
_junk = st.one_of(st.text(max_size=12), st.sampled_from(["nan", "-inf", "1e400", "", " ", "0x10"]))


@st.composite
def malformed(draw):
    kind = draw(_kind)
    names = list(CORRUPTIONS) + list(KIND_CORRUPTIONS[kind])
    return kind, draw(st.sampled_from(names)), draw(st.sampled_from(["lat", "lng", "ts"])), \
        draw(_junk)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(malformed(), min_size=1, max_size=12), st.integers(1, 15))
def test_hypothesis_corpus_of_malformed_events_all_dead_lettered_good_ones_counted(
        server, twin, corpus, n_good):
    import os

    bus = connect(home=os.environ["CITYOPS_HOME"], prefix=f"h{uuid.uuid4().hex[:10]}:")
    sent_bad = 0
    for i, (kind, name, field, junk) in enumerate(corpus):
        event = _corrupt(twin, kind, i, name)
        bus.publish(kind, [event])
        sent_bad += 1
        # the same event with a junk coordinate/time: still bad, as long as junk is unusable
        event = dict(event, id=f"junk{i}")
        event[field] = junk
        try:
            usable = np.isfinite(float(junk))
        except ValueError:
            usable = False
        if not usable and "id" not in name:
            bus.publish(kind, [event])
            sent_bad += 1
    good = [dict(_good(twin, "iot", 500 + i), id=f"ok{i}") for i in range(n_good)]
    bus.publish("iot", good)
    Worker(bus, twin, consumer="w", history=False).drain()
    dead = raw(bus).xrange(bus.keys.dead)
    assert len(dead) == sent_bad
    assert all(f[b"reason"] for _, f in dead)
    assert not any(f.get(b"id", b"").startswith(b"ok") for _, f in dead)
    assert stats(bus)["counted"] == n_good


_field_value = st.one_of(st.text(max_size=20), st.binary(max_size=20),
                         st.floats(allow_nan=True, allow_infinity=True).map(repr),
                         st.sampled_from(["39.0", "117.7", "pm25", "person", "noise", "hotline",
                                          "2", "gcj02", repr(NOW)]))
_fields = st.sampled_from(["id", "ts", "lat", "lng", "crs", "sensor", "metric", "value", "camera",
                           "label", "count", "confidence", "source", "category", "severity",
                           "text", "plate", "extra"])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(_kind, st.dictionaries(_fields, _field_value, min_size=1)),
                min_size=1, max_size=30))
def test_arbitrary_entries_are_each_either_counted_or_dead_lettered(server, twin, entries):
    import os

    bus = connect(home=os.environ["CITYOPS_HOME"], prefix=f"a{uuid.uuid4().hex[:10]}:")
    for i, (kind, fields) in enumerate(entries):
        fields = dict(fields)
        if "id" in fields:
            fields["id"] = f"{i}-{fields['id']!s}"[:100]  # ids unique, so nothing is a duplicate
        raw(bus).xadd(bus.stream(kind), fields)
    worker = Worker(bus, twin, consumer="w", history=False)
    worker.drain()
    health = stats(bus)
    assert health["counted"] + health["dead"] == len(entries)
    assert health["dead_letters"] == health["dead"]
    assert all(s["pending"] == 0 for s in health["streams"].values())


def test_a_row_that_breaks_column_wise_validation_is_isolated(bus, twin, monkeypatch):
    import layers.live.decode as worker_mod

    real = worker_mod.validate

    def fragile(kind, cols, *args, **kwargs):
        if cols.n > 1:
            raise RuntimeError("column-wise validation failed")
        return real(kind, cols, *args, **kwargs)

    monkeypatch.setattr(worker_mod, "validate", fragile)
    good = [_good(twin, "iot", i) for i in range(5)]
    bad = dict(_good(twin, "iot", 9), id="bad", lat="north")
    bus.publish("iot", good + [bad])
    Worker(bus, twin, consumer="w").drain()
    dead = raw(bus).xrange(bus.keys.dead)
    assert [f[b"id"] for _, f in dead] == [b"bad"]
    assert snapshot.read(bus, "iot.count", "1h").sum() == 5


def _arrow_entry(table, compression=None) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema,
                           options=pa.ipc.IpcWriteOptions(compression=compression)) as writer:
        writer.write(table)
    return sink.getvalue().to_pybytes()


def test_a_compressed_batch_that_would_inflate_past_the_limit_is_refused_undecoded(bus, twin):
    import pyarrow as pa

    lat, lng = twin.centers
    bomb = pa.table({"id": ["b"] * 300, "ts": [NOW - 30] * 300, "lat": [float(lat[0])] * 300,
                     "lng": [float(lng[0])] * 300, "sensor": ["S"] * 300,
                     "metric": ["pm25"] * 300, "value": [1.0] * 300,
                     "note": ["x" * 1_000_000] * 300})  # 300 MB once decompressed
    blob = _arrow_entry(bomb, "zstd")
    assert len(blob) < 100_000
    raw(bus).xadd(bus.stream("iot"), {"arrow": blob})
    bus.publish("iot", [_good(twin, "iot", 1)])
    Worker(bus, twin, consumer="w").drain()
    (_, dead), = raw(bus).xrange(bus.keys.dead)
    assert b"decompresses to 300," in dead[b"reason"] and b"over the" in dead[b"reason"]
    assert len(dead[b"arrow"]) <= 256 and b"sha256" in dead[b"truncated"]
    assert snapshot.read(bus, "iot.count", "1h").sum() == 1


def test_a_dead_letter_keeps_an_excerpt_the_size_and_a_hash_of_a_huge_field(bus, twin):
    import hashlib
    import json

    event = _good(twin, "incident", 3)
    event["text"] = "长" * 20_000
    bus.publish("incident", [event])
    Worker(bus, twin, consumer="w").drain()
    (_, dead), = raw(bus).xrange(bus.keys.dead)
    cut = json.loads(dead[b"truncated"])["text"]
    full = event["text"].encode()
    assert len(dead[b"text"]) <= 256
    assert cut == {"bytes": len(full), "sha256": hashlib.sha256(full).hexdigest()}


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Shanghai"])
def test_an_arrow_timestamp_column_is_read_in_any_unit_and_time_zone(bus, twin, unit, tz):
    import pyarrow as pa

    lat, lng = twin.centers
    scale = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    ts = pa.array([int(NOW - 30) * scale] * 3, type=pa.timestamp(unit, tz=tz))
    table = pa.table({"id": ["t1", "t2", "t3"], "ts": ts, "lat": lat[:3], "lng": lng[:3],
                      "sensor": ["S"] * 3, "metric": ["pm25"] * 3, "value": [1.0] * 3})
    bus.publish("iot", table, batch=10)
    Worker(bus, twin, consumer="w").drain()
    assert raw(bus).xlen(bus.keys.dead) == 0
    assert snapshot.read(bus, "iot.count", "1h").sum() == 3


@pytest.mark.parametrize("text", ["{iso}Z", "{iso}.123Z", "{iso}+00:00", "{iso}.5+00:00"])
def test_date_time_strings_with_an_offset_z_or_milliseconds_are_read(bus, twin, text):
    import datetime as dt

    iso = dt.datetime.fromtimestamp(int(NOW - 30), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    event = _good(twin, "iot", 2)
    event["ts"] = text.format(iso=iso)
    bus.publish("iot", [event])
    Worker(bus, twin, consumer="w").drain()
    assert raw(bus).xlen(bus.keys.dead) == 0
    assert snapshot.read(bus, "iot.count", "1h").sum() == 1
