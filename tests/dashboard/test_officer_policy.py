"""The officer (执法人员) in the policy and the users file: their own department's enforcement
cases only, acting on its open cases, never flagging; admins act on any department's."""

from __future__ import annotations

import pytest

from dashboard import policy
from dashboard import users as users_file
from dashboard.policy import User
from layers.loop import procedure as proc

MARKET = User("om", "OM", "officer", department="market")
HEALTH = User("oh", "OH", "officer", department="health")
NO_DEPT = User("o0", "O0", "officer")
SUPERVISOR = User("sup", "Sup", "supervisor")
COMMANDER = User("cmd", "Cmd", "commander")
ADMIN = User("root", "R", "admin")


def _case(department: str = "market", stage: str = "filing") -> proc.EnforcementCase:
    return proc.EnforcementCase(id="E000001", department=department, target="F1",
                                target_name="F1", basis="draw", basis_ref="1", party="person",
                                stage=stage, created=0.0, updated=0.0, deadline=None)


def test_an_officer_opens_the_enforcement_page_and_lands_on_it():
    assert policy.can_open(MARKET, "/enforcement") and policy.home_page(MARKET) == "/enforcement"
    assert not any(policy.can_open(MARKET, p) for p in ("/", "/grid", "/cases", "/scenarios",
                                                        "/patrol"))


def test_an_officer_sees_only_their_own_departments_cases():
    assert policy.enforcement_department(MARKET) == "market"
    assert policy.can_see_enforcement_case(MARKET, _case("market"))
    assert not policy.can_see_enforcement_case(MARKET, _case("health"))
    assert not policy.can_see_enforcement_case(NO_DEPT, _case(""))  # no department: nothing


def test_supervisors_commanders_and_admins_still_see_every_department():
    for user in (SUPERVISOR, COMMANDER, ADMIN):
        assert policy.enforcement_department(user) is None
        assert policy.can_see_enforcement_case(user, _case("health"))


def test_an_officer_acts_on_their_departments_open_cases_only():
    assert policy.can_act_enforcement(MARKET, _case("market"), "file")
    assert not policy.can_act_enforcement(MARKET, _case("health"), "file")
    assert not policy.can_act_enforcement(HEALTH, _case("market"), "note")
    assert not policy.can_act_enforcement(MARKET, _case("market", proc.CLOSED), "note")


def test_nobody_pays_or_flags_through_the_act_rule():
    for action in ("pay", "flag"):
        assert not policy.can_act_enforcement(MARKET, _case(), action)
        assert not policy.can_act_enforcement(ADMIN, _case(), action)


def test_an_officer_may_not_flag_and_the_supervisor_still_may():
    assert not policy.can_flag(MARKET, _case("market")) and not policy.may_flag(MARKET)
    assert policy.can_flag(SUPERVISOR, _case("market"))


def test_admins_act_on_any_department_and_commanders_and_supervisors_do_not():
    assert policy.can_act_enforcement(ADMIN, _case("health"), "file")
    assert not policy.can_act_enforcement(COMMANDER, _case(), "file")
    assert not policy.can_act_enforcement(SUPERVISOR, _case(), "file")


def test_no_api_key_is_an_officer():
    assert "officer" in policy.ROLES and "officer" not in policy.KEY_ROLES


def test_the_demo_officers_are_bound_to_departments_with_demo_cases():
    from layers.loop import inspections

    users = users_file.load_users()
    departments = {users[n].department for n in ("officer_market", "officer_health")}
    assert departments == {"market", "health"} and departments <= set(inspections.rosters())


@pytest.mark.parametrize(("spec", "words"), [
    ({"role": "officer"}, "needs `department"),
    ({"role": "officer", "department": "a b"}, "needs `department"),
    ({"role": "supervisor", "department": "market"}, "for officers only"),
])
def test_a_users_file_officer_needs_a_department_and_only_officers_have_one(tmp_path, spec,
                                                                          words):
    path = tmp_path / "users.yaml"
    import yaml

    spec = {**spec, "password_hash": users_file.hash_password("x")}
    path.write_text(yaml.safe_dump({"users": {"o": spec}}), encoding="utf-8")
    with pytest.raises(users_file.UsersFileError, match=words):
        users_file.load_users(path)
