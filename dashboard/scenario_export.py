"""Exports of a scenario result: NetCDF (the whole run), GeoParquet (cells reached), CAP 1.2.

Split from `scenario_view` (the page's pure logic); like it, pure functions of a result.
"""

from __future__ import annotations

import io
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from dashboard.i18n import t
from dashboard.results import compressed
from dashboard.scenario_view import frame_scale, in_lang, unit_table
from sim import Result
from sim.runner import peak_field
from twin import cells as h3cells

EXPORTS = {"netcdf": ".nc", "geoparquet": ".parquet", "cap": ".cap.xml"}
CAP_CATEGORY = {"flood": "flooding", "toxic_release": "hazchem", "explosion": "explosion",
                "epidemic": "epidemic", "evacuation": "hazchem"}


def netcdf_bytes(result: Result) -> bytes:
    """The whole result (time x cell, scenario and impact as attributes) as NetCDF."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "result.nc"
        compressed(result).to_netcdf(path)
        return path.read_bytes()


def reached_cells(result: Result, twin):
    """A GeoDataFrame of the cells the hazard reaches: hex id, peak value, severity, hexagon."""
    import geopandas as gpd

    name, peak, _, labels = peak_field(result)
    severity = result.ds["severity"].values.astype(int)
    keep = np.flatnonzero((np.nan_to_num(peak) >= frame_scale(result).threshold) | (severity > 0))
    names = np.array(["none", *labels], dtype=object)
    return gpd.GeoDataFrame({"cell": h3cells.to_hex(twin.cell_ids[keep]), name: peak[keep],
                             "severity": severity[keep],
                             "severity_label": names[severity[keep]]},
                            geometry=h3cells.cell_polygons(twin.cell_ids[keep]), crs=4326)


def geoparquet_bytes(result: Result, twin) -> bytes:
    """GeoParquet of the cells the hazard reaches (`reached_cells`)."""
    buf = io.BytesIO()
    reached_cells(result, twin).to_parquet(buf)
    return buf.getvalue()


def cap_alert(result: Result, twin, run_id: str, lang: str, now: float | None = None):
    """The alert `layers.protocols.cap.to_cap` writes, for the cells of any severity class."""
    from layers.loop.records import Alert

    severity = result.ds["severity"].values.astype(int)
    levels = len(result.impact["severity_labels"])
    worst = int(severity.max(initial=0))
    name = in_lang(result.scenario.name, lang)
    return Alert(id=f"scenario-{run_id}", ts=time.time() if now is None else now,
                 rule="scenario", category=CAP_CATEGORY[result.scenario.hazard],
                 severity=int(np.ceil(4 * worst / levels)) if worst else 1,
                 title=f"{name}: {t('kpi_people_affected', lang)} "
                       f"{result.impact['people_affected']:,.0f}",
                 source="scenario", lat=float(result.ds.attrs["source_lat"]),
                 lng=float(result.ds.attrs["source_lng"]),
                 cells=[int(c) for c in twin.cell_ids[severity > 0]],
                 evidence=[{"scenario": name, "run": run_id,
                            "people_affected": result.impact["people_affected"]}])


def cap_xml(result: Result, twin, run_id: str, lang: str, now: float | None = None) -> str:
    """CAP 1.2 XML of a warning for the scenario's affected area (certainty: Likely, a forecast)."""
    from layers.protocols.cap import NS, to_cap
    from layers.protocols.cap_feed import Issuer

    alert = cap_alert(result, twin, run_id, lang, now)
    units = [row[0] for row in unit_table(result.impact, lang)[1]]
    issuer = Issuer.of(twin)
    xml = to_cap(alert, sender=issuer.sender, sender_name=issuer.sender_name,
                 area_desc=("、" if lang == "zh" else ", ").join(units) or None,
                 language="en-US" if lang == "en" else "zh-CN", tz=twin.timezone)
    root = ET.fromstring(xml.split("\n", 1)[1])
    root.find(f"{{{NS}}}info/{{{NS}}}certainty").text = "Likely"  # simulated, not observed
    ET.register_namespace("", NS)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def export_file(result: Result, twin, fmt: str, run_id: str, lang: str) -> tuple[str, bytes]:
    """(file name, content) of a result in one export format."""
    if fmt not in EXPORTS:
        raise ValueError(f"unknown export format {fmt!r}: choose one of {', '.join(EXPORTS)}")
    content = {"netcdf": lambda: netcdf_bytes(result),
               "geoparquet": lambda: geoparquet_bytes(result, twin),
               "cap": lambda: cap_xml(result, twin, run_id, lang).encode("utf-8")}[fmt]()
    return f"scenario-{result.scenario.hazard}-{run_id}{EXPORTS[fmt]}", content
