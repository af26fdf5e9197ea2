"""CAP over an alert's life, and the Atom feed of active alerts that alert hubs poll.

An alert is first published as a CAP `Alert`; each escalation (or reopening) of its case is an
`Update` and the case's closing a `Cancel`, each with `<references>` to every earlier message
("sender,identifier,sent"), as CAP 1.2 §3.2.1 asks, so a reader replaces what it showed. The
sequence is derived from the case's audit records, so the same alert always yields the same
identifiers. Sender and sender name come from the deployment (`twin.settings.cap_sender`), the
area's description from the twin (streets/towns and grids, `cap_area`).

`atom` lists active alerts as an Atom 1.0 feed (RFC 4287) whose entries link to the CAP message
(`type="application/cap+xml"`) and repeat its main fields as `cap:` elements, the convention of
CAP feeds read by alert hubs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from layers.loop.records import Alert
from layers.protocols.cap import NS, cap_time, to_cap
from layers.protocols.cap_area import area_description
from twin import settings

ATOM = "http://www.w3.org/2005/Atom"
CHANGES = {"escalate": "Update", "reopen": "Update", "close": "Cancel"}
NOTES = {"escalate": ("案件已升级", "the case was escalated"),
         "reopen": ("案件已重新打开", "the case was reopened"),
         "close": ("案件已办结，警报解除", "the case is closed: the alert is over")}
_HEADER = ("identifier", "sender", "sent", "status", "msgType", "source", "scope",
           "restriction", "addresses", "code", "note", "references", "incidents", "info")


@dataclass(frozen=True)
class Issuer:
    """Who publishes CAP messages, in which time zone, about which twin."""

    sender: str
    sender_name: str
    twin: object | None  # None: no names for the area, the default time zone

    @staticmethod
    def of(twin=None) -> Issuer:
        meta = {"name": twin.name, **twin.meta} if twin is not None else {}
        return Issuer(settings.cap_sender(meta), settings.cap_sender_name(meta), twin)

    @property
    def tz(self) -> str:
        return self.twin.timezone if self.twin is not None else settings.DEFAULT_TIMEZONE


@dataclass(frozen=True)
class Message:
    """One CAP message of an alert's life."""

    msg_type: str     # Alert, Update, Cancel
    identifier: str
    sent: float
    action: str = ""  # the case action behind an Update or a Cancel

    def reference(self, issuer: Issuer) -> str:
        return f"{issuer.sender},{self.identifier},{cap_time(self.sent, issuer.tz)}"


def public_name(alert: Alert) -> str:
    """How the outside names an alert: its public id when it has one."""
    return getattr(alert, "public_id", None) or str(alert.id)


def sequence(alert: Alert, records: list[dict]) -> list[Message]:
    """The alert's messages: the Alert, then an Update or a Cancel per case change after it."""
    base = f"cityops-{public_name(alert)}"
    out = [Message("Alert", base, float(alert.ts))]
    for record in sorted(records, key=lambda r: (float(r.get("ts", 0)), r.get("seq", 0))):
        action = (record.get("data") or {}).get("action")
        ts = float(record.get("ts", 0))
        if action not in CHANGES or ts < alert.ts:
            continue
        if out[-1].msg_type == "Cancel" and action != "reopen":
            continue  # nothing changes for the public after the all-clear but a reopening
        out.append(Message(CHANGES[action], f"{base}-{len(out)}", ts, action))
    return out


def _el(parent: ET.Element, tag: str, text=None, ns: str = NS) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        el.text = str(text)
    return el


def _place(root: ET.Element, tag: str) -> int:
    """Where a header element goes among the alert's children (CAP's order)."""
    rank = _HEADER.index(tag)
    for i, child in enumerate(root):
        name = child.tag.split("}")[-1]
        if name in _HEADER and _HEADER.index(name) > rank:
            return i
    return len(root)


def message_xml(alert: Alert, records: list[dict], issuer: Issuer, upto: int | None = None,
                **options) -> str:
    """The CAP XML of the alert's latest message (or of message number `upto`)."""
    messages = sequence(alert, records)
    index = len(messages) - 1 if upto is None else upto
    current = messages[index]
    ET.register_namespace("", NS)
    xml = to_cap(alert, sender=issuer.sender, sender_name=issuer.sender_name, tz=issuer.tz,
                 **options)
    root = ET.fromstring(xml.split("\n", 1)[1].encode())
    root.find(f"{{{NS}}}identifier").text = current.identifier
    root.find(f"{{{NS}}}sent").text = cap_time(current.sent, issuer.tz)
    root.find(f"{{{NS}}}msgType").text = current.msg_type
    if index:
        zh, en = NOTES[current.action]
        note = ET.Element(f"{{{NS}}}note")
        note.text = f"{zh} / {en}"
        root.insert(_place(root, "note"), note)
        refs = ET.Element(f"{{{NS}}}references")
        refs.text = " ".join(m.reference(issuer) for m in messages[:index])
        root.insert(_place(root, "references"), refs)
    for info in root.findall(f"{{{NS}}}info"):
        lang = "en" if info.findtext(f"{{{NS}}}language", "").lower().startswith("en") else "zh"
        desc = area_description(issuer.twin, alert.cells, lang) if issuer.twin else None
        area_desc = info.find(f"{{{NS}}}area/{{{NS}}}areaDesc")
        if desc and area_desc is not None:
            area_desc.text = desc
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def atom(entries: list[tuple[str, str]], issuer: Issuer, feed_url: str, now: float) -> str:
    """An Atom feed of CAP messages: `entries` are (message URL, CAP XML), newest first."""
    ET.register_namespace("", ATOM)
    ET.register_namespace("cap", NS)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _el(feed, "id", feed_url, ATOM)
    _el(feed, "title", f"{issuer.sender_name}: active alerts", ATOM)
    _el(feed, "updated", cap_time(now, issuer.tz), ATOM)
    author = _el(feed, "author", ns=ATOM)
    _el(author, "name", issuer.sender_name, ATOM)
    if "@" in issuer.sender:
        _el(author, "email", issuer.sender, ATOM)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=feed_url,
                  type="application/atom+xml")
    for url, xml in entries:
        root = ET.fromstring(xml.split("\n", 1)[1].encode())
        info = root.find(f"{{{NS}}}info")
        entry = _el(feed, "entry", ns=ATOM)
        _el(entry, "id", url, ATOM)
        _el(entry, "title", info.findtext(f"{{{NS}}}headline") or
            info.findtext(f"{{{NS}}}event"), ATOM)
        _el(entry, "updated", root.findtext(f"{{{NS}}}sent"), ATOM)
        _el(entry, "summary", info.findtext(f"{{{NS}}}description"), ATOM)
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=url,
                      type="application/cap+xml")
        for tag in ("identifier", "sent", "status", "msgType"):
            _el(entry, tag, root.findtext(f"{{{NS}}}{tag}"))
        for tag in ("event", "urgency", "severity", "certainty", "effective", "expires"):
            _el(entry, tag, info.findtext(f"{{{NS}}}{tag}"))
        _el(entry, "areaDesc", info.findtext(f"{{{NS}}}area/{{{NS}}}areaDesc"))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(feed, encoding="unicode")
