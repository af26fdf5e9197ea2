"""CAP done properly: every message (Alert, Update, Cancel) validates against the OASIS CAP 1.2
XSD; sender and names come from the deployment and the twin; holes become valid polygons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.loop.test_open311_cap import data_key
from tests.outside.tools import need

XSD = Path(__file__).parent / "cap" / "CAP-v1.2.xsd"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
T0 = 1_767_225_600.0


@pytest.fixture(scope="module")
def schema():
    etree = need("lxml.etree")
    return etree.XMLSchema(etree.parse(str(XSD)))


def _valid(schema, xml: str):
    from lxml import etree

    doc = etree.fromstring(xml.encode())
    assert schema.validate(doc), schema.error_log.last_error
    return doc


def _alert(twin, cells=None, **kw):
    from layers.loop.records import Alert

    pos = int(np.flatnonzero(twin.ds["grid"].values == 5)[0])
    cells = cells if cells is not None else [int(twin.cell_ids[pos])]
    lat, lng = twin.centers
    return Alert(rule="waterlogging", category="waterlogging", severity=3, title="道路积水",
                 ts=T0, lat=float(lat[pos]), lng=float(lng[pos]), cells=cells,
                 id="A000001", case="C000001", source="layer", **kw)


def _ring(twin) -> list[int]:
    """The six neighbours of a cell that is deep inside the twin: a ring with a hole."""
    ok = (twin.neighbors >= 0).all(1)
    centre = int(np.flatnonzero(ok)[len(np.flatnonzero(ok)) // 2])
    return [int(twin.cell_ids[p]) for p in twin.neighbors[centre]]


def _records(*actions):
    return [{"seq": i, "ts": T0 + 600 * (i + 1), "data": {"action": a}}
            for i, a in enumerate(actions)]


def _issuer(twin):
    from layers.protocols.cap_feed import Issuer

    return Issuer.of(twin)


def test_an_alert_validates_against_the_cap_xsd(schema, demo_twin):
    from layers.protocols.cap_feed import message_xml

    _valid(schema, message_xml(_alert(demo_twin), [], _issuer(demo_twin)))


def test_sender_and_sender_name_come_from_the_deployment(schema, demo_twin, monkeypatch):
    from layers.protocols.cap_feed import message_xml

    monkeypatch.setenv("CITYOPS_CAP_SENDER", "alerts@city.example.org")
    monkeypatch.setenv("CITYOPS_CAP_SENDER_NAME", "Example City Operations")
    doc = _valid(schema, message_xml(_alert(demo_twin), [], _issuer(demo_twin)))
    assert doc.findtext(f"{CAP}sender") == "alerts@city.example.org"
    assert doc.findtext(f"{CAP}info/{CAP}senderName") == "Example City Operations"


def test_without_settings_the_twin_names_the_sender(demo_twin, monkeypatch):
    monkeypatch.delenv("CITYOPS_CAP_SENDER", raising=False)
    monkeypatch.delenv("CITYOPS_CAP_SENDER_NAME", raising=False)
    issuer = _issuer(demo_twin)
    assert issuer.sender == demo_twin.meta["cap_sender"]
    assert issuer.sender_name == demo_twin.meta["cap_sender_name"]


def test_a_sender_with_a_comma_is_refused_naming_the_setting(demo_twin, monkeypatch):
    monkeypatch.setenv("CITYOPS_CAP_SENDER", "ops, city")
    with pytest.raises(ValueError, match="CITYOPS_CAP_SENDER"):
        _issuer(demo_twin)


def test_the_area_is_described_by_street_town_and_grid_names(schema, demo_twin):
    from layers.protocols.cap_feed import message_xml

    alert = _alert(demo_twin)
    doc = _valid(schema, message_xml(alert, [], _issuer(demo_twin)))
    pos = int(demo_twin.positions(np.array(alert.cells, np.uint64))[0])
    unit = demo_twin.units.set_index("unit").loc[int(demo_twin.ds["unit"].values[pos])]
    grid = demo_twin.grids.set_index("grid").loc[int(demo_twin.ds["grid"].values[pos]), "id"]
    described = [a.text for a in doc.iter(f"{CAP}areaDesc")]
    assert any(unit["name"] in d and grid in d for d in described)
    assert not any("H3" in d for d in described)


def test_an_escalation_is_an_update_referencing_the_alert(schema, demo_twin):
    from layers.protocols.cap_feed import message_xml

    alert, issuer = _alert(demo_twin), _issuer(demo_twin)
    first = _valid(schema, message_xml(alert, [], issuer))
    update = _valid(schema, message_xml(alert, _records("accept", "escalate"), issuer))
    assert update.findtext(f"{CAP}msgType") == "Update"
    assert update.findtext(f"{CAP}identifier") != first.findtext(f"{CAP}identifier")
    assert update.findtext(f"{CAP}references") == ",".join(
        first.findtext(f"{CAP}{t}") for t in ("sender", "identifier", "sent"))


def test_closing_the_case_cancels_the_alert_referencing_every_earlier_message(schema,
                                                                               demo_twin):
    from layers.protocols.cap_feed import message_xml, sequence

    alert, issuer = _alert(demo_twin), _issuer(demo_twin)
    records = _records("accept", "escalate", "resolve", "close")
    cancel = _valid(schema, message_xml(alert, records, issuer))
    assert cancel.findtext(f"{CAP}msgType") == "Cancel"
    ids = [m.identifier for m in sequence(alert, records)]
    refs = cancel.findtext(f"{CAP}references").split()
    assert [r.split(",")[1] for r in refs] == ids[:-1]


def test_the_messages_of_an_alert_are_the_same_each_time(demo_twin):
    from layers.protocols.cap_feed import sequence

    records = _records("escalate", "close")
    assert sequence(_alert(demo_twin), records) == sequence(_alert(demo_twin), records)


def test_a_patch_with_a_hole_becomes_hole_free_polygons_covering_it(schema, demo_twin):
    import shapely

    from layers.protocols.cap_area import outline
    from layers.protocols.cap_feed import message_xml
    from twin import cells as h3cells

    ring = _ring(demo_twin)
    union = shapely.coverage_union_all(h3cells.cell_polygons(np.array(ring, np.uint64)))
    assert len(union.interiors) == 1  # the ring really has a hole
    pieces = outline(ring)
    assert len(pieces) >= 2 and all(not p.interiors and p.is_valid for p in pieces)
    assert abs(shapely.union_all(pieces).area - union.area) < 1e-12
    doc = _valid(schema, message_xml(_alert(demo_twin, cells=ring), [], _issuer(demo_twin)))
    polygons = [p.text for p in doc.find(f"{CAP}info/{CAP}area").iter(f"{CAP}polygon")]
    assert len(polygons) == len(pieces)
    for text in polygons:
        pairs = text.split()
        assert pairs[0] == pairs[-1] and len(pairs) >= 4


def test_the_atom_feed_links_each_entry_to_its_cap_message(demo_twin):
    from lxml import etree

    from layers.protocols.cap_feed import atom, message_xml

    issuer = _issuer(demo_twin)
    xml = message_xml(_alert(demo_twin), _records("escalate"), issuer)
    feed = etree.fromstring(atom([("http://x/cap/alerts/A.xml", xml)], issuer,
                                 "http://x/cap/alerts.atom", T0).encode())
    ns = {"a": "http://www.w3.org/2005/Atom", "cap": CAP[1:-1]}
    entry = feed.find("a:entry", ns)
    link = entry.find("a:link", ns)
    assert (link.get("rel"), link.get("type"), link.get("href")) == (
        "alternate", "application/cap+xml", "http://x/cap/alerts/A.xml")
    assert entry.findtext("cap:msgType", namespaces=ns) == "Update"
    assert feed.findtext("a:updated", namespaces=ns).endswith("+08:00")


# -- the routes ----------------------------------------------------------------------------------
@pytest.fixture
def web(bus, demo_twin, clock, keyring):
    from flask import Flask

    from dashboard.web_api import register_routes
    from layers.loop.cases import CaseStore
    from layers.loop.routing import Router

    store = CaseStore(bus, Router(demo_twin), clock=clock)
    server = Flask("cap-test")
    register_routes(server, bus, demo_twin, {"k"}, clock=clock, store=store, keyring=keyring)
    return server.test_client(), store


def _opened(store, bus, demo_twin, clock, grid=5):
    """An alert raised in a grid, with its case: (public id, case id)."""
    from layers.loop.alerts import AlertStore
    from tests.loop.conftest import alert
    raised = alert(demo_twin, grid=grid, ts=clock(), severity=3)
    raised.id = None
    case_id, _ = store.ingest(raised)
    return AlertStore(bus).get(raised.id).public_id, case_id


def test_the_cap_route_serves_the_latest_message_of_an_alert(schema, web, bus, demo_twin,
                                                             clock, keyring):
    client, store = web
    key = data_key(keyring)
    public, case_id = _opened(store, bus, demo_twin, clock)

    def latest():
        res = client.get(f"/cap/alerts/{public}.xml", headers=key)
        return _valid(schema, res.get_data(as_text=True))

    first = latest()
    assert first.findtext(f"{CAP}msgType") == "Alert"
    clock.advance(600)
    store.act(case_id, "escalate", actor="system")
    update = latest()
    assert update.findtext(f"{CAP}msgType") == "Update"
    assert first.findtext(f"{CAP}identifier") in update.findtext(f"{CAP}references")
    for action in ("accept", "resolve", "close"):
        clock.advance(60)
        store.act(case_id, action, actor="admin", note="done")
    assert latest().findtext(f"{CAP}msgType") == "Cancel"


def test_the_atom_feed_lists_active_alerts_only(schema, web, bus, demo_twin, clock, keyring):
    from lxml import etree

    client, store = web
    key = data_key(keyring)
    active, _ = _opened(store, bus, demo_twin, clock, grid=5)
    _, done_case = _opened(store, bus, demo_twin, clock, grid=8)
    for action in ("accept", "resolve", "close"):
        store.act(done_case, action, actor="admin", note="done")
    res = client.get("/cap/alerts.atom", headers=key)
    assert res.status_code == 200 and res.mimetype == "application/atom+xml"
    links = _feed_links(etree.fromstring(res.data))
    assert [link.rsplit("/", 1)[-1] for link in links] == [f"{active}.xml"]
    message = client.get(links[0].removeprefix("http://localhost"), headers=key)
    _valid(schema, message.get_data(as_text=True))


def test_a_grid_managers_key_sees_only_its_grids_alerts_in_the_feed(web, bus, demo_twin, clock,
                                                                     keyring):
    from lxml import etree

    client, store = web
    mine, _ = _opened(store, bus, demo_twin, clock, grid=5)
    _opened(store, bus, demo_twin, clock, grid=8)
    key = data_key(keyring, "grid_manager", [5, 6, 7], name="grid-a")
    links = _feed_links(etree.fromstring(client.get("/cap/alerts.atom", headers=key).data))
    assert [link.rsplit("/", 1)[-1] for link in links] == [f"{mine}.xml"]


def test_the_feed_needs_a_login_or_a_key(web):
    client, _ = web
    res = client.get("/cap/alerts.atom")
    assert res.status_code == 401 and "API key" in res.get_json()[0]["description"]


def _feed_links(feed) -> list[str]:
    ns = {"a": "http://www.w3.org/2005/Atom"}
    return [e.find("a:link", ns).get("href") for e in feed.findall("a:entry", ns)]
