"""Serving the app and launching Debian's Chromium: shared by the browser tests and screenshots."""

from __future__ import annotations

import os
import socket
import threading

CHROMIUM = os.environ.get("CITYOPS_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app) -> tuple[str, object]:
    """Serve a Dash app from a background thread; returns (base URL, server)."""
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}", server


DEMO_PASSWORDS = {"admin": "admin-binhai", "commander": "commander-binhai",
                  "planner": "planner-binhai", "grid_a": "grid-a-binhai",
                  "grid_b": "grid-b-binhai", "supervisor": "supervisor-binhai",
                  "officer_market": "officer-market-binhai",
                  "officer_health": "officer-health-binhai"}


def login(page, base_url: str, username: str, lang: str = "zh") -> None:
    """Log a browser page in as one of the demo users (through the login form)."""
    page.goto(f"{base_url}/login?lang={lang}")
    page.fill("#login-username", username)
    page.fill("#login-password", DEMO_PASSWORDS[username])
    with page.expect_navigation():
        page.click("#login-submit")


def login_context(context, base_url: str, username: str) -> None:
    """Log a browser context in through POST /login (its cookie jar keeps the session)."""
    reply = context.request.post(f"{base_url}/login", max_redirects=0, form={
        "username": username, "password": DEMO_PASSWORDS[username]})
    assert reply.status == 303, f"login as {username} failed: {reply.status}"
