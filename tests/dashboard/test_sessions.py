"""Server-side sessions: a logout ends the session for every copy of its cookie."""

from __future__ import annotations

import dataclasses

import pytest

from dashboard.session_store import SessionStore
from layers.clock import ManualClock
from tests.dashboard.conftest import DEMO_PASSWORDS

COOKIE = "session"


# -- the store -------------------------------------------------------------------------------------
@pytest.fixture(params=["memory", "redis"])
def store(request):
    return SessionStore(request.getfixturevalue("bus") if request.param == "redis" else None)


def test_an_opened_session_names_its_user_until_it_is_closed(store):
    sid = store.open("grid_a")
    assert store.user(sid) == "grid_a"
    store.close(sid)
    assert store.user(sid) is None


def test_session_ids_are_random_and_never_reused(store):
    ids = {store.open("grid_a") for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 43 for i in ids)


@pytest.mark.parametrize("sid", [None, "", "x", "../../etc", "a" * 43, 12, "é" * 43])
def test_an_unknown_or_malformed_id_is_no_session(store, sid):
    assert store.user(sid) is None


def test_an_idle_session_expires():
    clock = ManualClock(1000.0)
    store = SessionStore(None, idle_s=60, clock=clock)
    sid = store.open("admin")
    clock.advance(50)
    assert store.user(sid) == "admin"   # use refreshes the idle time
    clock.advance(50)
    assert store.user(sid) == "admin"
    clock.advance(61)
    assert store.user(sid) is None


def test_a_session_lives_in_redis_so_every_process_on_the_bus_sees_a_logout(bus):
    one, two = SessionStore(bus), SessionStore(bus)
    sid = one.open("commander")
    assert two.user(sid) == "commander"
    two.close(sid)
    assert one.user(sid) is None


def test_while_redis_is_silent_sessions_seen_here_work_and_closed_ones_stay_closed(bus):
    store = SessionStore(bus)
    alive, closed = store.open("admin"), store.open("commander")
    assert store.user(alive) == "admin"
    store.bus = dataclasses.replace(bus, url="redis://127.0.0.1:1").with_timeout(0.2)
    store.close(closed)
    assert store.user(alive) == "admin" and store.user(closed) is None
    assert store.user(SessionStore(None).open("planner")) is None  # never seen here


def test_after_a_redis_failure_requests_do_not_wait_on_redis_again_for_a_while(bus):
    """The wall polls every 1.5 s: if each poll waited for a dead Redis in the session check as
    well as in its own read, no answer would ever arrive in time (its banner would never show)."""
    import redis

    from dashboard import session_store

    class DeadRedis:
        calls = 0

        def pipeline(self, **_):
            DeadRedis.calls += 1
            raise redis.ConnectionError("down")

    clock = ManualClock(1000.0)
    store = SessionStore(bus, clock=clock)
    sid = store.open("admin")
    store.bus = dataclasses.replace(store.bus, redis=DeadRedis())
    assert [store.user(sid) for _ in range(5)] == ["admin"] * 5 and DeadRedis.calls == 1
    clock.advance(session_store.RETRY_S)
    store.user(sid)
    assert DeadRedis.calls == 2


def test_a_session_opened_while_redis_was_away_is_kept_when_it_answers_again(bus):
    clock = ManualClock(1000.0)
    store = SessionStore(bus, clock=clock)
    alive = store.bus
    store.bus = dataclasses.replace(bus, url="redis://127.0.0.1:1").with_timeout(0.2)
    sid = store.open("commander")
    assert store.user(sid) == "commander"
    store.bus = alive
    clock.advance(10)  # Redis is asked again
    assert store.user(sid) == "commander"
    assert SessionStore(bus).user(sid) == "commander"  # now in Redis for every process


# -- through the app -------------------------------------------------------------------------------
@pytest.fixture(params=["memory", "redis"])
def app(request, demo_twin):
    from dashboard.app import create_app

    live = request.getfixturevalue("bus") if request.param == "redis" else None
    return create_app(demo_twin, bus=live)


def _login(client, name: str = "grid_a") -> str:
    reply = client.post("/login", data={"username": name, "password": DEMO_PASSWORDS[name]})
    assert reply.status_code == 303
    return client.get_cookie(COOKIE).value


def test_after_logout_the_old_cookie_no_longer_opens_a_page(app):
    client = app.server.test_client()
    cookie = _login(client)
    assert client.get("/cases").status_code == 200
    client.get("/logout")
    client.set_cookie(COOKIE, cookie)
    assert client.get("/cases").status_code == 302
    reply = client.post("/_dash-update-component", json={"output": "cases-queue.children"})
    assert reply.status_code == 401


def test_logout_ends_the_session_for_a_copy_of_the_cookie_in_another_browser(app):
    mine, stolen = app.server.test_client(), app.server.test_client()
    stolen.set_cookie(COOKIE, _login(mine))
    assert stolen.get("/cases").status_code == 200
    mine.get("/logout")
    assert stolen.get("/cases").status_code == 302


def test_a_cookie_signed_for_a_user_but_without_a_live_session_id_opens_nothing(app):
    client = app.server.test_client()
    with client.session_transaction() as sess:  # as if the secret had leaked: no live sid
        sess["user"] = "admin"
    assert client.get("/cases").status_code == 302
    with client.session_transaction() as sess:
        sess["sid"] = "A" * 43
    assert client.get("/cases").status_code == 302


def test_a_session_id_is_bound_to_its_user(app):
    client = app.server.test_client()
    _login(client, "grid_a")
    with client.session_transaction() as sess:
        sess["user"] = "admin"  # the grid manager's live id with another name
    assert client.get("/cases").status_code == 302


def test_logging_in_again_gives_a_new_session_id(app):
    client = app.server.test_client()
    first = _login(client)
    with client.session_transaction() as sess:
        old_sid = sess["sid"]
    _login(client)
    with client.session_transaction() as sess:
        assert sess["sid"] != old_sid
    assert client.get_cookie(COOKIE).value != first
    assert app.server.extensions["cityops_sessions"].user(old_sid) is None


def test_logging_in_as_another_user_ends_the_first_session(app):
    client = app.server.test_client()
    _login(client, "grid_a")
    with client.session_transaction() as sess:
        first = sess["sid"]
    _login(client, "commander")
    assert app.server.extensions["cityops_sessions"].user(first) is None


# -- the cookie ------------------------------------------------------------------------------------
def _set_cookie(demo_twin, **kw) -> str:
    from dashboard.app import create_app

    client = create_app(demo_twin, **kw).server.test_client()
    reply = client.post("/login", data={"username": "admin", "password": DEMO_PASSWORDS["admin"]})
    return reply.headers["Set-Cookie"]


def test_the_session_cookie_is_httponly_and_samesite_lax(demo_twin, monkeypatch):
    monkeypatch.delenv("CITYOPS_SECURE_COOKIES", raising=False)
    cookie = _set_cookie(demo_twin)
    assert cookie.startswith("session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_served_over_https_the_session_cookie_is_secure_and_bound_to_the_host(demo_twin,
                                                                              monkeypatch):
    monkeypatch.setenv("CITYOPS_SECURE_COOKIES", "1")
    cookie = _set_cookie(demo_twin)
    assert cookie.startswith("__Host-session=") and "; Secure" in cookie and "HttpOnly" in cookie
    assert "Domain" not in cookie and "Path=/" in cookie
    monkeypatch.delenv("CITYOPS_SECURE_COOKIES")
    assert "; Secure" in _set_cookie(demo_twin, secure_cookies=True)


def test_a_secure_cookies_setting_that_is_not_yes_or_no_is_refused_by_name(demo_twin,
                                                                           monkeypatch):
    from dashboard.app import create_app

    monkeypatch.setenv("CITYOPS_SECURE_COOKIES", "maybe")
    with pytest.raises(ValueError, match="CITYOPS_SECURE_COOKIES"):
        create_app(demo_twin)
