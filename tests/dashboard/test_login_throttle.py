"""Login throttling: repeated failures lock a user name or an address for a while."""

from __future__ import annotations

import json

import pytest

from dashboard.throttle import LoginThrottle, subject
from layers.clock import ManualClock
from tests.dashboard.conftest import DEMO_PASSWORDS


@pytest.fixture(params=["memory", "redis"])
def throttle(request):
    return LoginThrottle(request.getfixturevalue("bus") if request.param == "redis" else None)


def test_five_failed_attempts_of_a_user_lock_that_user_for_the_rest_of_the_window(throttle):
    assert [throttle.attempt("grid_a", "10.0.0.1") for _ in range(5)] == [0] * 5
    assert 0 < throttle.wait("grid_a", "10.0.0.2") <= 900      # from any address
    assert 0 < throttle.attempt("grid_a", "10.0.0.2") <= 900
    assert throttle.attempt("grid_b", "10.0.0.3") == 0          # other users are not locked


def test_twenty_failed_attempts_from_an_address_lock_that_address_for_every_user(throttle):
    for i in range(20):
        throttle.attempt(f"guess{i}", "10.0.0.9")
    assert throttle.attempt("admin", "10.0.0.9") > 0
    assert throttle.attempt("admin", "10.0.0.10") == 0


def test_parallel_guesses_count_before_their_passwords_are_checked(throttle):
    """Twenty guesses in flight at once: only five reach the password check."""
    assert sum(throttle.attempt("admin", "10.0.0.1") == 0 for _ in range(20)) == 5


def test_a_success_clears_the_users_count_and_takes_its_attempt_back_from_the_address(throttle):
    for _ in range(4):
        throttle.attempt("grid_a", "10.0.0.1")
    throttle.succeeded("grid_a", "10.0.0.1")
    assert throttle.attempt("grid_a", "10.0.0.1") == 0 and throttle.wait("grid_a", "x") == 0
    for i in range(30):  # an office: many people sign in from one address
        throttle.attempt(f"user{i}", "10.0.0.5")
        throttle.succeeded(f"user{i}", "10.0.0.5")
    assert throttle.attempt("someone", "10.0.0.5") == 0


def test_the_lock_ends_with_the_window():
    clock = ManualClock(1000.0)
    throttle = LoginThrottle(None, window_s=900, clock=clock)
    for _ in range(5):
        throttle.attempt("grid_a", "10.0.0.1")
    clock.advance(600)
    assert throttle.wait("grid_a", "10.0.0.1") == 300
    clock.advance(301)
    assert throttle.attempt("grid_a", "10.0.0.1") == 0


def test_counters_in_redis_are_shared_by_every_process_on_the_bus(bus):
    one, two = LoginThrottle(bus), LoginThrottle(bus)
    for _ in range(3):
        one.attempt("admin", "10.0.0.1")
    for _ in range(2):
        two.attempt("admin", "10.0.0.2")
    assert one.wait("admin", "10.0.0.3") > 0


def test_redis_counters_expire_with_the_window_even_after_a_success(bus):
    from layers.testing import raw

    throttle = LoginThrottle(bus)
    throttle.attempt("admin", "10.0.0.1")
    raw(bus).delete(bus.keys.login_fails(subject("addr", "10.0.0.1")))  # the window ended
    throttle.succeeded("admin", "10.0.0.1")
    throttle.attempt("admin", "10.0.0.1")
    keys = raw(bus).keys(bus.keys.every("login:fails:{subject}"))
    assert len(keys) == 2 and all(0 < raw(bus).ttl(k) <= 900 for k in keys)
    assert not any(b"admin" in k or b"10.0.0.1" in k for k in keys)  # digests, not names


# -- through the app -------------------------------------------------------------------------------
@pytest.fixture
def client(demo_twin):
    from dashboard.app import create_app

    return create_app(demo_twin).server.test_client()


def _try(client, name: str, password: str, lang: str = "en", **headers):
    return client.post("/login", data={"username": name, "password": password, "lang": lang},
                       headers=headers)


def test_during_a_lock_out_the_right_password_is_refused_too(client):
    for _ in range(5):
        _try(client, "grid_a", "guess")
    reply = _try(client, "grid_a", DEMO_PASSWORDS["grid_a"])
    assert reply.status_code == 303 and "error=locked" in reply.headers["Location"]
    assert 0 < int(reply.headers["Retry-After"]) <= 900
    assert client.get("/grid").status_code == 302  # no session


def test_sixty_wrong_passwords_then_the_right_one_does_not_log_in(client):
    for _ in range(60):
        _try(client, "admin", "guess")
    assert "error=locked" in _try(client, "admin", DEMO_PASSWORDS["admin"]).headers["Location"]


def test_a_forged_forwarded_for_header_does_not_escape_the_address_limit(client):
    for i in range(20):
        _try(client, f"nobody{i}", "guess", **{"X-Forwarded-For": f"203.0.113.{i}"})
    reply = _try(client, "planner", DEMO_PASSWORDS["planner"],
                 **{"X-Forwarded-For": "198.51.100.7"})
    assert "error=locked" in reply.headers["Location"]


def test_a_wrong_password_below_the_limit_says_only_that_it_was_wrong(client):
    location = _try(client, "grid_a", "guess").headers["Location"]
    assert "error=1" in location and "locked" not in location


def _login_page(client, location: str) -> str:
    from dashboard import auth

    path, _, search = location.partition("?")
    body = {"output": auth.ROUTER_OUTPUT,
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": "?" + search}],
            "changedPropIds": ["_pages_location.pathname"]}
    return json.dumps(client.post("/_dash-update-component", json=body).get_json(),
                      ensure_ascii=False)


@pytest.mark.parametrize("lang, words", [("en", ["Too many failed sign-ins", "15 min"]),
                                         ("zh", ["登录失败次数过多", "15 分钟"])])
def test_the_login_page_says_when_to_try_again_in_both_languages(client, lang, words):
    for _ in range(5):
        location = _try(client, "grid_b", "guess", lang=lang).headers["Location"]
    shown = _login_page(client, location)
    assert all(w in shown for w in words), shown[:400]
