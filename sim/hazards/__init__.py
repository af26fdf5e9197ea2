"""The hazard registry: one module per hazard declares what sim and the dashboard need of it.

Like xarray's `BackendEntrypoint`, a hazard is an object (`sim.hazards.base.Hazard`) found by
name: each module of this package (flood, toxic_release, explosion, epidemic, evacuation)
exposes one as `HAZARD`, and other distributions may add theirs under the entry-point group
`cityops.hazards`. `sim.runner` dispatches through `get`, `sim.Scenario` validates parameters
with the entry's model, and the dashboard builds its forms, labels and legends from `all_hazards`.
Adding a hazard is adding one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from importlib.metadata import entry_points

from sim.hazards.base import Form, Hazard
from sim.spec import ScenarioError

ENTRY_POINT_GROUP = "cityops.hazards"


@cache
def _registry() -> dict[str, Hazard]:
    found: list[Hazard] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not isinstance(getattr(module, "HAZARD", None), Hazard):
            raise TypeError(f"{module.__name__} must define HAZARD = sim.hazards.base.Hazard(...)")
        found.append(module.HAZARD)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        hazard = ep.load()
        if not isinstance(hazard, Hazard):
            raise TypeError(f"entry point {ep.name!r} of {ENTRY_POINT_GROUP} must load a Hazard")
        found.append(hazard)
    out: dict[str, Hazard] = {}
    for hazard in sorted(found, key=lambda h: (h.order, h.name)):
        if hazard.name in out:
            raise ValueError(f"hazard {hazard.name!r} is registered twice")
        out[hazard.name] = hazard
    return out


def names() -> tuple[str, ...]:
    """Names of the registered hazards, in display order."""
    return tuple(_registry())


def all_hazards() -> tuple[Hazard, ...]:
    """The registered hazard entries, in display order."""
    return tuple(_registry().values())


def get(name: str) -> Hazard:
    """The entry of a hazard; a ScenarioError lists the known ones."""
    try:
        return _registry()[name]
    except KeyError:
        raise ScenarioError(f"unknown hazard {name!r}: choose one of "
                            f"{', '.join(_registry())}") from None


def forms() -> dict[str, tuple[Hazard, Form]]:
    """Every form of every hazard by its kind, in display order."""
    out: dict[str, tuple[Hazard, Form]] = {}
    for hazard in all_hazards():
        for form in hazard.forms:
            if form.kind in out:
                raise ValueError(f"form kind {form.kind!r} is declared by two hazards")
            out[form.kind] = (hazard, form)
    return out


def severity_name(label: str, lang: str) -> str:
    """A severity label of any hazard ('AEGL-2') in the UI language ('AEGL-2 disabling')."""
    for hazard in all_hazards():
        name = hazard.classes.name(label, lang)
        if name is not None:
            return name
    return label
