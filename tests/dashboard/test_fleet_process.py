"""One process of a served fleet answers whatever request reaches it first.

gunicorn runs each process with several threads: Dash sets itself up on its first request and
marks that done before it has learned which script files it serves, so a second request at the
same moment for one of those files was answered with an error (seen in the fleet's browser test).
A fleet process is therefore set up before it takes any request."""

from __future__ import annotations

from pathlib import Path

import dash
import pytest

from dashboard.fleet import ready


@pytest.fixture()
def react_url() -> str:
    """The URL of a script Dash serves (React, from Dash's own package)."""
    names = [p.name for p in (Path(dash.__file__).parent / "deps").glob("react@*.min.js")]
    name = max(names, key=lambda n: tuple(int(x) for x in n[6:-7].split(".")))  # the newest
    return f"/_dash-component-suites/dash/deps/{name}"


@pytest.fixture()
def app(demo_twin):
    """An app of its own; the process-wide dashboard context is put back after (other tests'
    servers in this process read it)."""
    from dashboard.app import create_app
    from dashboard.context import context, set_context

    try:
        previous = context()
    except RuntimeError:
        previous = None
    yield ready(create_app(demo_twin))
    if previous is not None:
        set_context(previous.twin, previous.bus, **previous.settings)


def test_a_fleet_process_knows_the_scripts_it_serves_before_its_first_request(app):
    assert app.registered_paths["dash"], "no script of Dash is known yet"


def test_a_fleet_process_serves_dashs_scripts_before_it_has_rendered_a_page(app, react_url):
    reply = app.server.test_client().get(react_url)
    assert reply.status_code == 200, reply.get_data(as_text=True)[:200]
