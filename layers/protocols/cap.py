"""CAP 1.2 (OASIS Common Alerting Protocol) export of an alert, for public warning systems.

One `<alert>` with one `<info>` block per language (Chinese, then English, by default), each with
an `<area>` whose `<polygon>`s outline the alert's cells (the union of their H3 hexagons; one
polygon per separate patch; "lat,lon" pairs, closed). Element names and order follow
CAP-v1.2-os (namespace urn:oasis:names:tc:emergency:cap:1.2); times are ISO 8601 with an explicit
offset (CAP forbids "Z"), in the city's time zone.

A CAP message is public, so it names the alert by its public id (`Alert.public_id`, never the
countable internal id or the case), and its description is made of the category, the place
(street/town) and counts: never the evidence (citizens' report text); the headline is redacted
(`layers.protocols.redact`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from layers.loop import sla
from layers.loop.records import Alert
from layers.protocols.cap_area import cap_polygon, outline
from layers.protocols.redact import redact
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
           expires_h: float = 6.0, language: str | tuple[str, ...] = ("zh-CN", "en-US"),
           tz: str | None = None, place: str | None = None) -> str:
    """The CAP 1.2 XML (UTF-8 text) of an alert: one `<info>` per language (a code or a tuple
    of codes); `place` is the street/town the description names. Sender and sender name default
    to the deployment's (`twin.settings.cap_sender`, `cap_sender_name`)."""
    sender = sender or settings.cap_sender()
    sender_name = sender_name or settings.cap_sender_name()
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}alert")
    _sub(root, "identifier", f"cityops-{alert.public_id or alert.id}")
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_time(alert.ts, tz))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Alert")
    _sub(root, "scope", "Public")
    shape = polygons(alert.cells)
    for code in (language,) if isinstance(language, str) else language:
        _info(root, alert, code, sender_name, area_desc or place, expires_h, tz, place, shape)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _info(root: ET.Element, alert: Alert, code: str, sender_name: str, area_desc: str | None,
          expires_h: float, tz: str | None, place: str | None, shape: list[str]) -> None:
    lang = "en" if code.lower().startswith("en") else "zh"
    sev = int(alert.severity)
    headline = redact(alert.title_in(lang) if alert.title else _category(alert.category, lang))
    info = _sub(root, "info")
    _sub(info, "language", code)
    _sub(info, "category", CATEGORY.get(alert.category, "Other"))
    _sub(info, "event", headline)
    _sub(info, "urgency", URGENCY.get(sev, "Unknown"))
    _sub(info, "severity", SEVERITY.get(sev, "Unknown"))
    _sub(info, "certainty", "Likely" if alert.source == "incident" else "Observed")
    event_code = _sub(info, "eventCode")
    _sub(event_code, "valueName", "cityops:category")
    _sub(event_code, "value", alert.category)
    _sub(info, "effective", cap_time(alert.ts, tz))
    _sub(info, "expires", cap_time(alert.ts + 3600.0 * expires_h, tz))
    _sub(info, "senderName", sender_name)
    _sub(info, "headline", headline)
    _sub(info, "description", description(alert, lang, place))
    for name, value in (("rule", alert.rule), ("cells", len(alert.cells))):
        param = _sub(info, "parameter")
        _sub(param, "valueName", f"cityops:{name}")
        _sub(param, "value", value)
    area = _sub(info, "area")
    _sub(area, "areaDesc", area_desc or (f"{len(alert.cells)} 个 H3 单元" if lang == "zh" else
                                         f"{len(alert.cells)} H3 cells"))
    for poly in shape:
        _sub(area, "polygon", poly)
    if not alert.cells:
        _sub(area, "circle", f"{alert.lat:.6f},{alert.lng:.6f} 0.2")


def _category(category: str, lang: str) -> str:
    """The category's name in a language (data/rules/categories.yaml)."""
    return sla.default().label(category, lang)


def description(alert: Alert, lang: str = "zh", place: str | None = None) -> str:
    """What a member of the public reads: the category, where (street/town) and how much (cells,
    reports, events). Never the evidence: report texts carry citizens' names and numbers."""
    what = _category(alert.category, lang)
    cells, reports, events = len(alert.cells), int(alert.reports or 0), len(alert.events)
    if lang == "en":
        parts = [f"{what}{f' in {place}' if place else ''}", f"severity {int(alert.severity)} of 4"]
        parts += [f"{cells} H3 cells"] if cells else []
        parts += [f"{reports} citizen reports"] if reports else []
        parts += [f"{events} events"] if events else []
        return "; ".join(parts) + "."
    parts = [f"{place}：{what}" if place else what, f"等级 {int(alert.severity)}/4"]
    parts += [f"涉及 {cells} 个 H3 单元"] if cells else []
    parts += [f"群众上报 {reports} 条"] if reports else []
    parts += [f"相关事件 {events} 起"] if events else []
    return "，".join(parts) + "。"
