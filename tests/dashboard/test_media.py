"""Case photos (dashboard.media): known by their bytes, size-checked before decoding, stored
0600 under $CITYOPS_HOME/media/{case}/ by their hash, attached to a resolution, and served by the
real Flask server only to users who may see the case (403 otherwise, 404 for what is not there)."""

from __future__ import annotations

import base64
import http.cookiejar
import stat
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from dashboard import media

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64
WEBP = b"RIFF\x24\0\0\0WEBPVP8 " + b"\0" * 32


def _data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


# -- the module ------------------------------------------------------------------------------------
def test_a_photo_is_known_by_its_bytes_not_its_name():
    assert media.kind_of(PNG) == "png" and media.kind_of(JPEG) == "jpg"
    assert media.kind_of(WEBP) == "webp"
    assert media.kind_of(b"<svg onload=alert(1)>") is None
    assert media.kind_of(b"RIFF\0\0\0\0WAVE") is None and media.kind_of(b"") is None


def test_a_photo_is_stored_0600_under_home_media_case_by_its_hash(tmp_path):
    name = media.save("C000001", PNG, home=tmp_path)
    stored = tmp_path / "media" / "C000001" / name
    assert name.endswith(".png") and len(name) == 64 + 4 and stored.read_bytes() == PNG
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "media").stat().st_mode) == 0o700
    assert media.path_of("C000001", name, home=tmp_path) == stored
    assert media.save("C000001", PNG, home=tmp_path) == name  # the same photo is kept once
    assert [p.name for p in stored.parent.iterdir()] == [name]  # no temporary file left


def test_home_defaults_to_cityops_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYOPS_HOME", str(tmp_path))
    name = media.save("C000002", JPEG)
    assert (tmp_path / "media" / "C000002" / name).is_file()
    assert media.path_of("C000002", name) == tmp_path / "media" / "C000002" / name


def test_a_declared_image_type_does_not_make_an_image(tmp_path):
    with pytest.raises(media.MediaError, match="JPEG, PNG or WebP") as refused:
        media.save("C1", media.from_upload(_data_url(b"<html><script>x</script>")),
                   home=tmp_path)
    assert refused.value.reason == "not_image"
    assert not (tmp_path / "media" / "C1").exists()


def test_too_big_is_refused_before_decoding(tmp_path, monkeypatch):
    with pytest.raises(media.MediaError, match="at most 5 MB") as refused:
        media.save("C1", JPEG + b"\0" * media.MAX_BYTES, home=tmp_path)
    assert refused.value.reason == "too_big"

    def no_decoding(*_a, **_k):
        raise AssertionError("an oversized upload was decoded")

    monkeypatch.setattr(media.base64, "b64decode", no_decoding)
    with pytest.raises(media.MediaError, match="at most 5 MB"):
        media.from_upload("data:image/png;base64," + "A" * (media.MAX_BYTES * 2))


def test_the_largest_photo_passes():
    photo = PNG + b"\0" * (media.MAX_BYTES - len(PNG))
    upload = _data_url(photo)
    assert len(upload) <= media.MAX_UPLOAD_CHARS and media.from_upload(upload) == photo


@pytest.mark.parametrize("upload", ["not a data url", "data:image/png,rawbytes",
                                    "data:image/png;base64,***", None])
def test_a_broken_upload_is_refused(upload):
    with pytest.raises(media.MediaError) as refused:
        media.from_upload(upload)
    assert refused.value.reason == "bad_upload"


def test_no_name_reaches_outside_the_media_folder(tmp_path):
    (tmp_path / "secret.png").write_bytes(PNG)
    assert media.path_of("../etc", "passwd", home=tmp_path) is None
    assert media.path_of("C1", "../../secret.png", home=tmp_path) is None
    assert media.path_of("..", "secret.png", home=tmp_path) is None
    with pytest.raises(media.MediaError) as refused:
        media.save("../x", PNG, home=tmp_path)
    assert refused.value.reason == "bad_case"


# -- on a case -------------------------------------------------------------------------------------
@pytest.fixture
def served(demo_twin, tmp_path, monkeypatch):
    """The app served on a free port, on a bus with a case in grid 5 (grid_a's) resolved with a
    photo: (base URL, case store, case id, photo name)."""
    from dashboard import case_view as cv
    from dashboard import context as app_context
    from dashboard.app import create_app
    from dashboard.policy import User
    from layers.live.bus import connect
    from layers.loop.cases import CaseStore
    from layers.loop.routing import Router
    from layers.testing import stop_server
    from tests.dashboard.browser import serve
    from tests.loop.conftest import alert
    monkeypatch.setenv("CITYOPS_HOME", str(tmp_path))
    before = app_context._CONTEXT
    bus = connect(home=tmp_path / "redis", fsync="no")
    store = CaseStore(bus, Router(demo_twin))
    cid = store.ingest(alert(demo_twin, "noise", grid=5, ts=time.time()))[0]
    url, server = serve(create_app(demo_twin, bus=bus))
    manager = User("grid_a", "A", "grid_manager", frozenset({5, 6, 7}))
    cv.act(store, manager, cid, "accept")
    cv.act(store, manager, cid, "resolve", "cleared", photo=_data_url(PNG))
    name = store.history(cid)[-1]["data"]["photos"][0]
    yield url, store, cid, name
    server.shutdown()
    app_context._CONTEXT = before
    stop_server(bus)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kw):
        return None


def _session(base: str, username: str | None):
    """An opener that keeps cookies, logged in as a demo user (or nobody)."""
    from tests.dashboard.browser import DEMO_PASSWORDS

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    if username:
        form = urllib.parse.urlencode({"username": username,
                                       "password": DEMO_PASSWORDS[username]}).encode()
        try:
            opener.open(f"{base}/login", data=form, timeout=30)
        except urllib.error.HTTPError as reply:  # 303 to the user's home page
            assert reply.code == 303, reply.code
    return opener


def _get(opener, address: str) -> tuple[int, bytes, dict]:
    try:
        with opener.open(address, timeout=30) as reply:
            return reply.status, reply.read(), dict(reply.headers)
    except urllib.error.HTTPError as reply:
        return reply.code, reply.read(), dict(reply.headers)


def test_a_resolution_keeps_its_photo_in_the_record_and_on_disk(served, tmp_path):
    _, store, cid, name = served
    record = store.history(cid)[-1]
    assert record["data"]["action"] == "resolve" and record["data"]["note"] == "cleared"
    assert (tmp_path / "media" / cid / name).read_bytes() == PNG


def test_the_photo_is_served_to_who_may_see_the_case_only(served):
    base, _, cid, name = served
    address = base + media.url(cid, name)
    for username in ("grid_a", "commander", "admin"):
        status, body, headers = _get(_session(base, username), address)
        assert (status, body) == (200, PNG), username
        assert headers["Content-Type"] == "image/png"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "private" in headers["Cache-Control"]
    assert _get(_session(base, "grid_b"), address)[0] == 403  # another manager's grid
    status, _, headers = _get(_session(base, None), address)
    assert status == 302 and headers["Location"].startswith("/login")


def test_what_is_not_there_is_404(served, tmp_path):
    base, _, cid, name = served
    grid_a = _session(base, "grid_a")
    assert _get(grid_a, base + media.url(cid, "0" * 64 + ".png"))[0] == 404
    assert _get(grid_a, base + media.url("C999999", name))[0] == 404
    assert _get(grid_a, base + f"/media/{cid}/photo.png")[0] == 404  # not a name we make
    assert _get(grid_a, base + "/media/C%3B1/" + name)[0] == 404
    (tmp_path / "media" / "leak.png").write_bytes(PNG + b"LEAK")
    for sneaky in (f"/media/{cid}/..%2Fleak.png", "/media/..%2F/leak.png",
                   f"/media/{cid}/%2E%2E%2Fleak.png"):
        status, body, headers = _get(grid_a, base + sneaky)  # the app's page, never the file
        assert b"LEAK" not in body and not headers["Content-Type"].startswith("image/"), sneaky


def test_a_refused_photo_stops_the_resolution_and_says_why_in_the_ui_language(served,
                                                                             demo_twin):
    from dashboard import case_view as cv
    from dashboard.policy import User
    from tests.loop.conftest import alert
    _, store, _, _ = served
    cid = store.ingest(alert(demo_twin, "noise", grid=6, ts=time.time()))[0]
    manager = User("grid_a", "A", "grid_manager", frozenset({5, 6, 7}))
    cv.act(store, manager, cid, "accept")
    with pytest.raises(cv.PhotoRefused) as refused:
        cv.act(store, manager, cid, "resolve", "done", photo=_data_url(b"%PDF-1.7"))
    assert refused.value.reason == "not_image"
    assert store.get(cid).status == "accepted"
    assert cv.refusal_text(refused.value, "zh") == "只接受 JPEG、PNG 或 WebP 照片"
    assert cv.refusal_text(refused.value, "en") == "Only JPEG, PNG or WebP photos are accepted"


def test_the_trail_shows_the_photo(served):
    from dashboard import case_view as cv

    _, store, cid, name = served
    rows = cv.trail_rows(store.history(cid), "en")
    assert rows[-1]["photos"] == [name]
    assert media.url(cid, name) in str(cv.trail_table(rows, "en"))


# -- the page side ---------------------------------------------------------------------------------
def test_a_refresh_waits_while_a_note_or_photo_is_pending():
    from dashboard import case_view as cv

    assert cv.input_pending(True, ["", None], [None]) is False
    assert cv.input_pending(True, ["  "], ["shot.jpg"]) is True
    assert cv.input_pending(True, ["fixed"], []) is True
    assert cv.input_pending(False, ["fixed"], ["shot.jpg"]) is False  # not a tick: redraw


def test_the_photo_box_says_what_is_chosen_in_both_languages():
    from dashboard import case_view as cv

    assert cv.photo_label("shot.jpg", "zh") == "已选照片：shot.jpg（办结时上传）"
    assert cv.photo_label(None, "en").startswith("Photo of the result")


def test_a_callback_request_larger_than_a_photo_is_refused_413(served):
    from dashboard.auth import CALLBACK_MAX_BODY

    base, _, _, _ = served
    assert CALLBACK_MAX_BODY > media.MAX_UPLOAD_CHARS + 64 * 1024  # a photo and the rest fit
    request = urllib.request.Request(f"{base}/_dash-update-component",
                                     data=b"{" + b" " * CALLBACK_MAX_BODY + b"}",
                                     headers={"Content-Type": "application/json"})
    assert _get(_session(base, "grid_a"), request)[0] == 413
