"""The keys file of the data routes: digests only, 0600, one role (and grids) per key, revocable."""

from __future__ import annotations

import pytest
import yaml

from dashboard import apikeys
from dashboard.apikeys import KeyRing, KeysFileError


@pytest.fixture
def path(tmp_path):
    return tmp_path / "api_keys.yaml"


def test_a_new_key_is_returned_once_and_only_its_digest_is_stored(path):
    key = apikeys.add(path, "wall-feed", "commander")
    text = path.read_text()
    assert key.startswith("cok_") and len(key) > 40 and key not in text
    assert apikeys.digest(key) in text


def test_the_keys_file_is_written_readable_by_its_owner_only(path):
    apikeys.add(path, "a", "commander")
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_keys_file_others_may_read_is_refused_with_the_fix(path):
    apikeys.add(path, "a", "commander")
    path.chmod(0o644)
    with pytest.raises(KeysFileError, match=f"chmod 600 {path}"):
        KeyRing(path)


def test_a_key_stands_for_its_role_and_grids(path):
    ring = KeyRing(path)
    key = apikeys.add(path, "grid-5", "grid_manager", [5, 6])
    user = ring.find(key).user()
    assert (user.username, user.role, user.grids) == ("key:grid-5", "grid_manager", {5, 6})


@pytest.mark.parametrize("presented", [None, "", "cok_", "wrong", "cok_x" * 10])
def test_an_unknown_key_finds_nothing(path, presented):
    key = apikeys.add(path, "a", "admin")
    ring = KeyRing(path)
    assert ring.find(presented) is None
    assert ring.find(key[:-1]) is None and ring.find(key + "x") is None and ring.find(key)


def test_a_revoked_key_is_refused_without_a_restart(path):
    ring = KeyRing(path)
    key = apikeys.add(path, "a", "commander")
    assert ring.find(key) is not None
    apikeys.revoke(path, "a")
    assert ring.find(key) is None
    assert yaml.safe_load(path.read_text())["keys"]["a"]["revoked"] is True  # kept for the record


def test_a_missing_keys_file_means_no_keys(path):
    assert KeyRing(path).keys() == {} and KeyRing(path).find("anything") is None


def test_a_keys_file_broken_while_running_refuses_every_key_until_fixed(path):
    ring = KeyRing(path)
    key = apikeys.add(path, "a", "commander")
    assert ring.find(key)
    path.chmod(0o640)
    assert ring.find(key) is None
    path.chmod(0o600)
    assert ring.find(key) is not None


@pytest.mark.parametrize("spec, words", [
    ({"sha256": "abc", "role": "admin"}, ["k1", "sha256"]),
    ({"sha256": "a" * 64, "role": "boss"}, ["k1", "role", "boss"]),
    ({"sha256": "a" * 64, "role": "grid_manager"}, ["k1", "grids"]),
    ({"sha256": "a" * 64, "role": "admin", "revoked": "no"}, ["k1", "revoked"]),
    ("just text", ["k1", "mapping"]),
])
def test_a_bad_keys_file_names_the_key_and_the_field(path, spec, words):
    path.write_text(yaml.safe_dump({"keys": {"k1": spec}}))
    path.chmod(0o600)
    with pytest.raises(KeysFileError) as err:
        KeyRing(path)
    assert str(path) in str(err.value) and all(w in str(err.value) for w in words)


def test_two_keys_cannot_share_a_name(path):
    apikeys.add(path, "a", "admin")
    with pytest.raises(KeysFileError, match="exists"):
        apikeys.add(path, "a", "commander")


@pytest.mark.parametrize("headers, key", [
    ({"Authorization": "Bearer cok_abc"}, "cok_abc"), ({"Authorization": "bearer cok_abc "},
                                                       "cok_abc"),
    ({"X-API-Key": "cok_abc"}, "cok_abc"), ({"Authorization": "Basic xyz"}, None), ({}, None),
])
def test_a_key_is_read_from_the_authorization_or_x_api_key_header(headers, key):
    assert apikeys.presented(headers) == key


def test_the_command_line_adds_lists_and_revokes_keys(path, capsys):
    assert apikeys.main(["--file", str(path), "add", "g", "--role", "grid_manager",
                         "--grids", "5,6"]) == 0
    key = capsys.readouterr().out.strip()
    assert KeyRing(path).find(key).grids == {5, 6}
    assert apikeys.main(["--file", str(path), "list"]) == 0
    assert capsys.readouterr().out.strip() == "g\tgrid_manager\t5,6\tlive"
    assert apikeys.main(["--file", str(path), "revoke", "g"]) == 0
    assert KeyRing(path).find(key) is None
    assert apikeys.main(["--file", str(path), "revoke", "nobody"]) == 2
    assert "no key named 'nobody'" in capsys.readouterr().err


def test_comparing_keys_looks_at_every_entry_whatever_matches(path, monkeypatch):
    """Constant time: the time taken must not depend on which entry (if any) matches."""
    import hmac as hmac_module

    keys = [apikeys.add(path, f"k{i}", "commander") for i in range(5)]
    ring = KeyRing(path)
    calls = []
    real = hmac_module.compare_digest
    monkeypatch.setattr(apikeys.hmac, "compare_digest",
                        lambda a, b: calls.append(1) or real(a, b))
    for presented in (keys[0], keys[4], "cok_wrong"):
        calls.clear()
        ring.find(presented)
        assert len(calls) == 5
