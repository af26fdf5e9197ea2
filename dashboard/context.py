"""What the running app works on (the twin and the bus): set once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AppContext:
    twin: object
    bus: object | None = None
    settings: dict = field(default_factory=dict)


_CONTEXT: AppContext | None = None


def set_context(twin, bus=None, **settings) -> AppContext:
    """Install the twin (and the bus, when live) that the pages and callbacks read."""
    global _CONTEXT
    _CONTEXT = AppContext(twin=twin, bus=bus, settings=dict(settings))
    return _CONTEXT


def context() -> AppContext:
    if _CONTEXT is None:
        raise RuntimeError("the dashboard has no twin: start it with `cityops serve` or create_app")
    return _CONTEXT


def city_timezone() -> str:
    """The running city's IANA time zone (its twin's manifest), or the default outside an app."""
    from twin.settings import DEFAULT_TIMEZONE

    return _CONTEXT.twin.timezone if _CONTEXT is not None else DEFAULT_TIMEZONE
