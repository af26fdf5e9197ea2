"""What the running app works on (the twin, later the bus): set once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AppContext:
    twin: object


_CONTEXT: AppContext | None = None


def set_context(twin) -> AppContext:
    """Install the twin the pages and callbacks read."""
    global _CONTEXT
    _CONTEXT = AppContext(twin=twin)
    return _CONTEXT


def context() -> AppContext:
    if _CONTEXT is None:
        raise RuntimeError("the dashboard has no twin: start it with `cityops serve` or create_app")
    return _CONTEXT
