"""HTTP errors as JSON on the paths machines call (the callback endpoint, Open311, CAP).

Flask keeps one handler per exception class, so the parts that want JSON errors register a
renderer for their path prefix here and one handler answers for all; any other path gets the
usual response.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request
from werkzeug.exceptions import HTTPException

EXTENSION = "cityops_json_errors"


def answer_json(server: Flask, prefix: str, render: Callable[[int, str], object]) -> None:
    """Render HTTP errors raised under `prefix` with `render(code, description)`."""
    renderers = server.extensions.setdefault(EXTENSION, {})
    if not renderers:
        server.register_error_handler(HTTPException, _handler(renderers))
    renderers[prefix] = render


def _handler(renderers: dict[str, Callable[[int, str], object]]):
    def handle(exc: HTTPException):
        if exc.code is None or exc.code >= 500:  # server faults keep Flask's own answer
            return exc
        for prefix, render in renderers.items():
            if request.path.startswith(prefix):
                return render(exc.code, exc.description or exc.name)
        return exc

    return handle
