"""GeoReport v2 documents as XML, shaped as the specification's examples.

Every JSON answer of the Open311 routes has its XML twin: a root element holding one child per
item (`<services><service>`, `<service_requests><request>`, `<errors><error>`), a field per child
element in the JSON order, lists as a plural element of singular children (`<attributes>
<attribute>`, `<values><value>`, `<endpoints><endpoint>`, `<formats><format>`), an empty element
for a missing value, `true`/`false` for booleans; UTF-8 with the XML declaration.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

ROOTS = {  # what the document holds -> (root element, item element)
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}
SINGULAR = {"attributes": "attribute", "values": "value", "endpoints": "endpoint",
            "formats": "format"}
CONTENT_TYPE = "text/xml; charset=utf-8"


def _fill(element: ET.Element, value) -> None:
    if isinstance(value, dict):
        for name, inner in value.items():
            _fill(ET.SubElement(element, name), inner)
    elif isinstance(value, list):
        for inner in value:
            _fill(ET.SubElement(element, SINGULAR.get(element.tag, "item")), inner)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def _text(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode", xml_declaration=False).join(
        ('<?xml version="1.0" encoding="utf-8"?>\n', "\n"))


def items_xml(what: str, items: list[dict]) -> str:
    """A list answer (services, service requests, errors) as its GeoReport XML document."""
    root_name, item_name = ROOTS[what]
    root = ET.Element(root_name)
    for item in items:
        _fill(ET.SubElement(root, item_name), item)
    return _text(root)


def document_xml(root_name: str, body: dict) -> str:
    """A single-object answer (`service_definition`, `discovery`) as XML."""
    root = ET.Element(root_name)
    _fill(root, body)
    return _text(root)
