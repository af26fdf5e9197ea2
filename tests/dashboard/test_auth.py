"""Users, roles and the server-side guard: passwords, who sees and does what, sessions."""

from __future__ import annotations

import json

import pytest

from dashboard import auth, policy
from dashboard import users as users_file
from dashboard.policy import User
from tests.dashboard.conftest import DEMO_PASSWORDS

GRID_A = User("a", "A", "grid_manager", frozenset({5, 6}), "")
COMMANDER = User("c", "C", "commander")
ADMIN = User("root", "R", "admin")
PLANNER = User("p", "P", "planner")


def _case(grid: int, status: str = "dispatched", **kw):
    from layers.loop.records import Case, Place, SlaLimits

    return Case(id="C1", status=status, category="noise", severity=1,
                place=Place(cell=None, grid=grid), departments=[], owner="", title="",
                sla=SlaLimits(10, 30, 240), source="test", created=0.0, updated=0.0, **kw)


@pytest.fixture(scope="module")
def users():
    return users_file.load_users()


def test_the_demo_users_log_in_with_their_documented_passwords(users):
    for name, password in DEMO_PASSWORDS.items():
        assert users_file.authenticate(users, name, password) == users[name]


def test_a_wrong_password_or_unknown_user_is_refused(users):
    assert users_file.authenticate(users, "grid_a", "grid-b-binhai") is None
    assert users_file.authenticate(users, "nobody", "x") is None
    assert users_file.authenticate(users, "admin", "") is None


def test_passwords_are_stored_hashed(users):
    assert all(u.password_hash.startswith(("scrypt:", "pbkdf2:")) for u in users.values())
    assert "grid-a-binhai" not in repr(users["grid_a"])


@pytest.mark.parametrize("spec, words", [
    ({"role": "boss", "password_hash": "scrypt:x"}, ["u1", "role", "boss"]),
    ({"role": "grid_manager", "password_hash": "scrypt:x"}, ["u1", "grids"]),
    ({"role": "admin"}, ["u1", "password_hash"]),
])
def test_a_bad_users_file_names_the_user_and_the_field(tmp_path, spec, words):
    import yaml

    path = tmp_path / "users.yaml"
    path.write_text(yaml.safe_dump({"users": {"u1": spec}}))
    with pytest.raises(users_file.UsersFileError) as err:
        users_file.load_users(path)
    assert all(w in str(err.value) for w in words) and str(path) in str(err.value)


def test_visible_grids_follow_the_role():
    assert policy.visible_grids(GRID_A) == {5, 6}
    assert policy.visible_grids(COMMANDER) is None and policy.visible_grids(ADMIN) is None
    assert policy.visible_grids(PLANNER) == frozenset() and policy.visible_grids(None) == frozenset()


def test_a_grid_manager_sees_only_cases_of_their_grids():
    assert policy.can_see_case(GRID_A, _case(5)) and not policy.can_see_case(GRID_A, _case(8))
    assert policy.can_see_case(COMMANDER, _case(8)) and not policy.can_see_case(PLANNER, _case(8))
    assert not policy.can_see_case(None, _case(5))


def test_a_grid_manager_acts_on_own_cases_only_and_as_the_lifecycle_allows():
    assert policy.can_act(GRID_A, _case(5), "accept")
    assert not policy.can_act(GRID_A, _case(8), "accept")
    assert not policy.can_act(GRID_A, _case(5), "arrive")  # not accepted yet
    assert policy.can_act(GRID_A, _case(5, "accepted", accepted_at=1.0), "arrive")
    assert not policy.can_act(GRID_A, _case(5), "close")  # not a grid manager's action


def test_a_commander_reads_but_does_not_act_and_an_admin_does():
    assert not policy.can_act(COMMANDER, _case(5), "accept")
    assert policy.can_act(ADMIN, _case(5), "accept")
    assert not policy.can_act(PLANNER, _case(5), "accept") and not policy.can_act(None, _case(5), "accept")


def test_pages_each_role_may_open():
    assert policy.can_open(GRID_A, "/grid") and policy.can_open(GRID_A, "/cases")
    assert not policy.can_open(GRID_A, "/") and not policy.can_open(PLANNER, "/cases")
    assert policy.can_open(None, "/login") and not policy.can_open(None, "/grid")
    assert policy.home_page(GRID_A) == "/grid" and policy.home_page(PLANNER) == "/"


def test_after_login_only_local_permitted_pages_are_redirect_targets():
    assert policy.safe_next("/cases?lang=en", GRID_A) == "/cases?lang=en"
    assert policy.safe_next("//evil.example/", GRID_A) == "/grid"
    assert policy.safe_next("https://evil.example/", GRID_A) == "/grid"
    assert policy.safe_next("/", GRID_A) == "/grid"


@pytest.mark.parametrize("target", [
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\x00/evil.example",
    "/\\evil.example", "\\/evil.example", "//evil.example", "///evil.example",
    "https://evil.example/", "javascript:alert(1)", "evil.example", " /cases", "/%09/evil.example",
    "/%5C/evil.example", "/%2F/evil.example", "/..//evil.example", "/%2e%2e//evil.example",
    "/cases/../..//evil.example", "/\u3000/evil.example", "/cases\u2028", "/" + "a" * 3000,
])
def test_a_next_target_that_could_leave_the_site_is_refused(target):
    assert policy.local_path(target) is None
    assert policy.safe_next(target, ADMIN) == "/"


def test_a_next_target_keeps_its_query():
    assert policy.local_path("/grid?grid=5&lang=en") == "/grid?grid=5&lang=en"


def test_the_session_secret_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("CITYOPS_SECRET", raising=False)
    first = auth.secret_key(tmp_path)
    assert len(first) == 64 and auth.secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("CITYOPS_SECRET", "from-the-environment")
    assert auth.secret_key(tmp_path) == b"from-the-environment"


# -- the guard on a real app (Flask test client) ---------------------------------------------------
@pytest.fixture
def client(demo_twin, bus):
    from dashboard.app import create_app

    return create_app(demo_twin, bus=bus, api_keys={"k"}).server.test_client()


def _login(client, name: str) -> None:
    reply = client.post("/login", data={"username": name, "password": DEMO_PASSWORDS[name]})
    assert reply.status_code == 303


def test_pages_redirect_to_the_login_page_without_a_session(client):
    reply = client.get("/cases?lang=en")
    assert reply.status_code == 302
    assert reply.headers["Location"] == "/login?next=%2Fcases%3Flang%3Den"
    assert client.get("/login").status_code == 200


def test_the_callback_endpoint_answers_401_without_a_session(client):
    reply = client.post("/_dash-update-component", json={"output": "grid-card.children"})
    assert reply.status_code == 401 and "log in" in reply.get_json()["error"]


def test_open311_needs_no_session_and_cap_answers_401_json_without_one(client):
    assert client.get("/open311/v2/services.json").status_code == 200
    reply = client.get("/cap/alerts/nope.xml")  # reaches the route, which asks for a key
    assert reply.status_code == 401 and reply.get_json()[0]["code"] == 401


def test_a_wrong_password_goes_back_to_the_login_page_with_an_error(client):
    reply = client.post("/login", data={"username": "grid_a", "password": "guess"})
    assert reply.status_code == 303 and "error=1" in reply.headers["Location"]
    assert client.get("/grid").status_code == 302


def test_login_lands_on_the_asked_page_and_logout_ends_the_session(client):
    reply = client.post("/login", data={"username": "grid_a", "next": "/cases",
                                        "password": DEMO_PASSWORDS["grid_a"]})
    assert reply.headers["Location"] == "/cases" and client.get("/cases").status_code == 200
    client.get("/logout")
    assert client.get("/cases").status_code == 302


def test_login_never_redirects_off_the_site(client):
    for target in ("/\t/evil.example", "/\\evil.example", "//evil.example", "/%2e%2e//x"):
        reply = client.post("/login", data={"username": "admin", "next": target,
                                            "password": DEMO_PASSWORDS["admin"]})
        assert reply.status_code == 303 and reply.headers["Location"] == "/", target


def test_a_language_with_a_line_break_cannot_split_the_redirect(client):
    reply = client.post("/login", data={"username": "admin", "password": "wrong",
                                        "lang": "en\r\nSet-Cookie: x=1"})
    assert reply.status_code == 303 and "Set-Cookie: x" not in str(reply.headers)
    assert "lang=zh" in reply.headers["Location"]
    reply = client.get("/logout?lang=en%0D%0ASet-Cookie:%20x=1")
    assert reply.status_code == 303 and reply.headers["Location"] == "/login?lang=zh"


def test_every_answer_carries_the_security_headers(client):
    for reply in (client.get("/login"), client.get("/cases"),
                  client.post("/_dash-update-component", json={}),
                  client.get("/open311/v2/services.json"), client.get("/cap/nope")):
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert reply.headers["Referrer-Policy"] == "same-origin"


def test_a_role_is_kept_off_pages_and_their_callbacks_it_may_not_use(client):
    _login(client, "grid_a")
    assert client.get("/").headers["Location"] == "/grid"
    app = client.application.extensions["cityops_dash"]
    command = [out for out, spec in app.callback_map.items()
               if out != auth.ROUTER_OUTPUT and "callback" in spec
               and auth.callback_page(app, {"output": out}) == "/"]
    assert command, "the command page has callbacks"
    for output in command:
        reply = client.post("/_dash-update-component", json={"output": output})
        assert reply.status_code == 403, output


def test_a_grid_manager_is_refused_another_grid_through_the_callback_endpoint(client):
    _login(client, "grid_a")
    body = {"output": "..grid-card.children...grid-map.data..",
            "outputs": [{"id": "grid-card", "property": "children"},
                        {"id": "grid-map", "property": "data"}],
            "inputs": [{"id": "grid-pick", "property": "value", "value": 300},
                       {"id": "grid-map-size", "property": "data", "value": None}],
            "state": [{"id": "grid-lang", "property": "data", "value": "en"}],
            "changedPropIds": ["grid-pick.value"]}
    assert client.post("/_dash-update-component", json=body).status_code == 403
    body["inputs"][0]["value"] = 5
    assert client.post("/_dash-update-component", json=body).status_code == 200


def _router(client, path: str) -> str:
    body = {"output": auth.ROUTER_OUTPUT,
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": "?lang=en"}],
            "changedPropIds": ["_pages_location.pathname"]}
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code == 200
    return json.dumps(reply.get_json(), ensure_ascii=False)


def test_a_page_the_role_may_not_open_renders_a_notice_not_its_content(client):
    _login(client, "grid_a")
    shown = _router(client, "/")
    assert '"forbidden"' in shown and "command-map" not in shown


def test_the_header_names_the_user_and_links_only_pages_they_may_open(client):
    _login(client, "grid_a")
    shown = _router(client, "/grid")
    assert "Sign out" in shown and "Grid manager" in shown
    assert '"href": "/cases?lang=en"' in shown and '"href": "/?lang=en"' not in shown


def test_only_the_login_page_renders_without_a_session(client):
    assert "login-form" in _router(client, "/login")
    body = {"output": auth.ROUTER_OUTPUT, "inputs": [
        {"id": "_pages_location", "property": "pathname", "value": "/cases"}]}
    assert client.post("/_dash-update-component", json=body).status_code == 401
