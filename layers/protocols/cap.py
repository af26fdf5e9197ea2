"""CAP 1.2 (OASIS Common Alerting Protocol) export of an alert, for public warning systems.

One `<alert>` with one `<info>` block and one `<area>` whose `<polygon>`s outline the alert's
cells (the union of their H3 hexagons; one polygon per separate patch; "lat,lon" pairs, closed).
Element names and order follow CAP-v1.2-os (namespace urn:oasis:names:tc:emergency:cap:1.2);
times are ISO 8601 with an explicit offset (CAP forbids "Z"), in the city's time zone.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from layers.loop.records import Alert
from layers.protocols.cap_area import cap_polygon, outline
from twin import settings
from twin.settings import iso_time

NS = "urn:oasis:names:tc:emergency:cap:1.2"
SEVERITY = {4: "Extreme", 3: "Severe", 2: "Moderate", 1: "Minor"}
URGENCY = {4: "Immediate", 3: "Immediate", 2: "Expected", 1: "Future"}
CATEGORY = {  # CAP info/category codes
    "waterlogging": "Met", "flooding": "Met", "gas_leak": "Env", "hazchem": "CBRNE",
    "fire": "Fire", "smoke": "Fire", "explosion": "CBRNE", "crowd": "Safety",
    "thrown_object": "Safety", "fever": "Health", "epidemic": "Health",
    "illegal_parking": "Transport", "traffic_accident": "Transport", "road_damage": "Infra",
    "streetlight": "Infra", "water_supply": "Infra", "noise": "Env", "garbage": "Env",
}


def cap_time(ts: float, tz: str | None = None) -> str:
    """CAP date-time: no fractional seconds, the city's explicit offset (e.g. +08:00)."""
    return iso_time(ts, tz)


def polygons(cells: list[int]) -> list[str]:
    """CAP polygon strings ("lat,lon lat,lon ...", first = last) outlining H3 cells; a patch
    with holes is cut into hole-free polygons (`cap_area.outline`)."""
    return [cap_polygon(p) for p in outline(cells)]


def _sub(parent: ET.Element, tag: str, text=None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{NS}}}{tag}")
    if text is not None:
        el.text = str(text)
    return el


def to_cap(alert: Alert, sender: str | None = None, sender_name: str | None = None,
           area_desc: str | None = None,
           expires_h: float = 6.0, language: str = "zh-CN", tz: str | None = None) -> str:
    """The CAP 1.2 XML (UTF-8 text) of an alert; sender and sender name default to the
    deployment's (`twin.settings.cap_sender`, `cap_sender_name`)."""
    sender = sender or settings.cap_sender()
    sender_name = sender_name or settings.cap_sender_name()
    ET.register_namespace("", NS)
    sev = int(alert.severity)
    root = ET.Element(f"{{{NS}}}alert")
    _sub(root, "identifier", f"cityops-{alert.id}")
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(alert.ts, tz))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Alert")
    _sub(root, "scope", "Public")
    info = _sub(root, "info")
    _sub(info, "language", language)
    _sub(info, "category", CATEGORY.get(alert.category, "Other"))
    _sub(info, "event", alert.title or alert.category)
    _sub(info, "urgency", URGENCY.get(sev, "Unknown"))
    _sub(info, "severity", SEVERITY.get(sev, "Unknown"))
    _sub(info, "certainty", "Likely" if alert.source == "incident" else "Observed")
    code = _sub(info, "eventCode")
    _sub(code, "valueName", "cityops:category")
    _sub(code, "value", alert.category)
    _sub(info, "effective", cap_time(alert.ts, tz))
    _sub(info, "expires", cap_time(alert.ts + 3600.0 * expires_h, tz))
    _sub(info, "senderName", sender_name)
    _sub(info, "headline", alert.title or alert.category)
    _sub(info, "description", _description(alert))
    for name, value in (("rule", alert.rule), ("case", alert.case), ("cells", len(alert.cells))):
        if value is not None:
            param = _sub(info, "parameter")
            _sub(param, "valueName", f"cityops:{name}")
            _sub(param, "value", value)
    area = _sub(info, "area")
    _sub(area, "areaDesc", area_desc or f"{len(alert.cells)} H3 cells around "
                                        f"{alert.lat:.5f},{alert.lng:.5f}")
    for poly in polygons(alert.cells):
        _sub(area, "polygon", poly)
    if not alert.cells:
        _sub(area, "circle", f"{alert.lat:.6f},{alert.lng:.6f} 0.2")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _description(alert: Alert) -> str:
    parts = [f"rule {alert.rule}", f"category {alert.category}", f"severity {alert.severity}"]
    ev = alert.evidence
    if ev:
        first = ev[0]
        parts.append("evidence: " + ", ".join(f"{k}={v}" for k, v in first.items()))
        if len(ev) > 1:
            parts.append(f"(+{len(ev) - 1} more)")
    return "; ".join(parts)
