"""Case photos: type by magic bytes, a size limit, and served only to who may see the case."""

from __future__ import annotations

import base64
import time

import pytest

from dashboard import media

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64


def test_a_photo_is_known_by_its_bytes_not_its_name():
    assert media.kind_of(PNG) == "png" and media.kind_of(JPEG) == "jpg"
    assert media.kind_of(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    assert media.kind_of(b"<svg onload=alert(1)>") is None


def test_a_photo_is_stored_under_its_hash_for_its_case(tmp_path):
    name = media.save("C000001", PNG, home=tmp_path)
    assert name.endswith(".png") and (tmp_path / "C000001" / name).read_bytes() == PNG
    assert media.path_of("C000001", name, home=tmp_path) == tmp_path / "C000001" / name


def test_what_is_not_an_image_or_too_big_is_refused(tmp_path):
    with pytest.raises(media.MediaError, match="JPEG, PNG or WebP"):
        media.save("C1", b"%PDF-1.7", home=tmp_path)
    with pytest.raises(media.MediaError, match="at most 5 MB"):
        media.save("C1", JPEG + b"\0" * media.MAX_BYTES, home=tmp_path)
    with pytest.raises(media.MediaError, match="at most 5 MB"):
        media.from_upload("data:image/png;base64," + "A" * (media.MAX_BYTES * 2))


def test_no_name_reaches_outside_the_media_folder(tmp_path):
    assert media.path_of("../etc", "passwd", home=tmp_path) is None
    assert media.path_of("C1", "../../x.png", home=tmp_path) is None


def test_an_upload_is_decoded_from_its_data_url():
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert media.from_upload(url) == PNG


@pytest.fixture
def served(demo_twin, tmp_path, monkeypatch):
    """The app on a bus with a case in grid 5 resolved with a photo, and its media folder."""
    from dashboard import case_view as cv
    from dashboard import context as app_context
    from dashboard.app import create_app
    from dashboard.policy import User
    from layers.live.bus import connect
    from layers.loop.cases import CaseStore
    from layers.loop.routing import Router
    from layers.testing import stop_server
    from tests.loop.conftest import alert

    monkeypatch.setenv("CITYOPS_HOME", str(tmp_path))
    before = app_context._CONTEXT
    bus = connect(home=tmp_path / "redis", fsync="no")
    store = CaseStore(bus, Router(demo_twin))
    cid = store.ingest(alert(demo_twin, "noise", grid=5, ts=time.time()))[0]
    app = create_app(demo_twin, bus=bus)
    manager = User("grid_a", "A", "grid_manager", frozenset({5, 6, 7}))
    cv.act(store, manager, cid, "accept")
    upload = "data:image/png;base64," + base64.b64encode(PNG).decode()
    cv.act(store, manager, cid, "resolve", "cleared", photo=upload)
    name = store.history(cid)[-1]["data"]["photos"][0]
    yield app, cid, name
    app_context._CONTEXT = before
    stop_server(bus)


def _client(app, username: str):
    from tests.dashboard.browser import DEMO_PASSWORDS

    client = app.server.test_client()
    client.post("/login", data={"username": username, "password": DEMO_PASSWORDS[username]})
    return client


def test_a_resolution_photo_is_served_to_who_may_see_the_case_only(served):
    app, cid, name = served
    reply = _client(app, "grid_a").get(media.url(cid, name))
    assert reply.status_code == 200 and reply.data == PNG
    assert reply.headers["Content-Type"] == "image/png"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert _client(app, "grid_b").get(media.url(cid, name)).status_code == 403
    anonymous = app.server.test_client().get(media.url(cid, name))
    assert anonymous.status_code in (302, 401, 403)


def test_the_trail_shows_the_photo(served):
    from dashboard import case_view as cv
    from layers.loop.cases import CaseStore

    _, cid, name = served
    from dashboard.context import context

    rows = cv.trail_rows(CaseStore(context().bus, None).history(cid), "en")
    assert rows[-1]["photos"] == [name]
    assert media.url(cid, name) in str(cv.trail_table(rows, "en"))


