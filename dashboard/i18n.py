"""UI labels in Simplified Chinese and English; every visible label goes through `t`."""

from __future__ import annotations

LANGS = ("zh", "en")

LABELS: dict[str, dict[str, str]] = {
    "app_title": {"zh": "滨海新区城市运行数字孪生", "en": "Binhai CityOps Twin"},
    "nav_command": {"zh": "指挥大屏", "en": "Command"},
    "nav_grid": {"zh": "网格", "en": "Grid"},
    "language": {"zh": "English", "en": "中文"},
    "map_layer": {"zh": "地图图层", "en": "Map layer"},
    "layer_population": {"zh": "常住人口", "en": "Population"},
    "layer_elevation_m": {"zh": "地面高程", "en": "Elevation"},
    "layer_road_capacity": {"zh": "道路通行能力", "en": "Road capacity"},
    "layer_land_use": {"zh": "土地利用", "en": "Land use"},
    "kpi_population": {"zh": "常住人口", "en": "Residents"},
    "kpi_cells": {"zh": "网格单元 (H3)", "en": "H3 cells"},
    "kpi_grids": {"zh": "社会治理网格", "en": "Governance grids"},
    "kpi_sensors": {"zh": "物联感知设备", "en": "IoT sensors"},
    "kpi_cameras": {"zh": "视频点位", "en": "Cameras"},
    "kpi_facilities": {"zh": "重点设施", "en": "Key facilities"},
    "pick_unit": {"zh": "选择街镇", "en": "Street / town"},
    "pick_grid": {"zh": "选择网格", "en": "Grid"},
    "card_residents": {"zh": "常住人口", "en": "Residents"},
    "card_cells": {"zh": "单元数", "en": "Cells"},
    "card_area": {"zh": "面积 (km²)", "en": "Area (km²)"},
    "card_manager": {"zh": "网格员", "en": "Grid manager"},
    "card_facilities": {"zh": "设施", "en": "Facilities"},
    "card_sensors": {"zh": "传感器", "en": "Sensors"},
    "card_cameras": {"zh": "摄像头", "en": "Cameras"},
    "none": {"zh": "无", "en": "None"},
    "legend_low": {"zh": "低", "en": "low"},
    "legend_high": {"zh": "高", "en": "high"},
}


def add_labels(labels: dict[str, dict[str, str]]) -> None:
    """Register a page's own labels (each page module keeps its labels beside its layout)."""
    for key, texts in labels.items():
        if set(texts) != set(LANGS):
            raise ValueError(f"label {key!r} needs exactly the languages {LANGS}, got {sorted(texts)}")
        if key in LABELS and LABELS[key] != texts:
            raise ValueError(f"label {key!r} is defined twice with different texts")
        LABELS[key] = dict(texts)


def t(key: str, lang: str = "zh") -> str:
    """The label `key` in `lang` ("zh" or "en"); unknown keys fail loudly in tests."""
    return LABELS[key][lang if lang in LANGS else "zh"]


def lang_of(value) -> str:
    """A language code fit to echo in a link or a redirect: `value` when it is one of LANGS,
    else the default (zh). For page addresses, where a stray `?lang=` should still show a page;
    callback inputs are checked strictly (`dashboard.inputs.lang`)."""
    return value if isinstance(value, str) and value in LANGS else LANGS[0]


def other(lang: str) -> str:
    """The language the switch button turns to."""
    return "en" if lang == "zh" else "zh"


def name_column(table, lang: str) -> str:
    """The column of a twin table (units, facilities) naming its rows in `lang`: "name_en" in
    English where the table has it, else "name" (Chinese)."""
    return "name_en" if lang == "en" and "name_en" in table else "name"


def unit_names(twin, lang: str) -> dict[int, str]:
    """The twin's streets/towns by number, named in `lang` (English where the twin has it)."""
    units = twin.units
    if "unit" not in units:
        return {}
    column = name_column(units, lang)
    return {int(u): str(n) for u, n in zip(units["unit"], units[column], strict=True)}
