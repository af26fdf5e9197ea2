"""The twin's gazetteer: place names of its registries -> a point, in Chinese, pinyin and English.

Built from the registries a twin has: street/towns (`units`, at their seat), communities (the
`community` / `community_en` columns of `grids`, at a point inside the community's grids),
development zones (`zones`) and facilities (`facilities`: shelters, schools, hospitals...), each
under its Chinese name, its English name
and the pinyin of its Chinese name (pypinyin), with and without the generic part (街道, 镇,
Subdistrict, Town...). `find` reads free text such as an Open311 `address_string`
("新港街道", "天津市滨海新区新港街道港航路12号", "xingang jiedao", "Xingang Subdistrict") and
returns the most specific place it names: the longest name found in the text, a facility before a
community before a street/town before a zone when two are as long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUFFIXES_ZH = ("街道办事处", "街道", "社区", "新区", "镇", "乡", "街", "区")
SUFFIXES_EN = ("subdistrict", "sub-district", "street", "town", "township", "community",
               "district", "new area")
KINDS = {"facilities": "facility", "grids": "community", "units": "unit",
         "zones": "zone"}  # registry -> kind of place, the most specific first
RANK = {kind: i for i, kind in enumerate(KINDS.values())}
MIN_HAN, MIN_LATIN = 2, 4  # shorter keys match too much


@dataclass(frozen=True)
class Place:
    """A named place and the point a report there is located at."""

    name: str
    name_en: str
    kind: str
    lat: float
    lng: float


def normal(text: str) -> str:
    """Lower case, no spaces, punctuation or tone marks (`Xīn Gǎng` and `xingang` agree)."""
    import unicodedata

    text = unicodedata.normalize("NFKD", str(text)).lower()
    return re.sub(r"[\W_]+", "", "".join(c for c in text if not unicodedata.combining(c)))


def _pinyin(name: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(name))


def _names(name: str, name_en: str) -> set[str]:
    keys = {name, name_en, _pinyin(name)}
    for suffix in SUFFIXES_ZH:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            keys |= {name[: -len(suffix)], _pinyin(name[: -len(suffix)])}
    lowered = name_en.lower()
    for suffix in SUFFIXES_EN:
        if lowered.endswith(" " + suffix):
            keys.add(name_en[: -len(suffix) - 1])
    out = set()
    for key in keys:
        k = normal(key)
        han = any("\u4e00" <= c <= "\u9fff" for c in k)
        if len(k) >= (MIN_HAN if han else MIN_LATIN):
            out.add(k)
    return out


def _point(row, kind: str) -> tuple[float, float]:
    if kind == "units" and "seat_lat" in row and row["seat_lat"] == row["seat_lat"]:
        return float(row["seat_lat"]), float(row["seat_lng"])
    geom = row["geometry"]
    point = geom if geom.geom_type == "Point" else geom.representative_point()
    return float(point.y), float(point.x)


def _named(table, registry: str):
    """The rows of a registry that name places (`name`, optional `name_en`, geometry): the
    grids give their communities, one row per community."""
    if table is None:
        return None
    if registry == "grids":
        if "community" not in table.columns:
            return None
        table = table.rename(columns={"community": "name", "community_en": "name_en"})
        columns = ["name", "name_en", "geometry"] if "name_en" in table.columns else \
            ["name", "geometry"]
        return table[columns].dissolve(by="name", as_index=False)
    return table if "name" in table.columns else None


class Gazetteer:
    """Names -> places of one twin (`Gazetteer.of(twin)`)."""

    def __init__(self, places: list[Place], keys: dict[str, int]) -> None:
        self.places, self.keys = places, keys
        self._by_length = sorted(keys, key=len, reverse=True)

    @staticmethod
    def of(twin) -> Gazetteer:
        places: list[Place] = []
        keys: dict[str, int] = {}
        for registry, kind in KINDS.items():
            table = _named(getattr(twin, registry, None), registry)
            if table is None:
                continue
            for _, row in table.iterrows():
                name = str(row["name"])
                name_en = str(row.get("name_en") or "") if "name_en" in row else ""
                lat, lng = _point(row, registry)
                places.append(Place(name, name_en, kind, lat, lng))
                for key in _names(name, name_en):
                    held = keys.get(key)
                    if held is None or RANK[places[held].kind] > RANK[kind]:
                        keys[key] = len(places) - 1
        return Gazetteer(places, keys)

    def find(self, text: str | None) -> Place | None:
        """The most specific place the text names, or None."""
        wanted = normal(text or "")
        if not wanted:
            return None
        if wanted in self.keys:
            return self.places[self.keys[wanted]]
        for key in self._by_length:  # the longest name inside the text
            if key in wanted:
                return self.places[self.keys[key]]
        return None

    def examples(self, count: int = 2) -> list[str]:
        """A few names people may use ("新港街道 / Xingang Subdistrict")."""
        units = [p for p in self.places if p.kind == "unit"] or self.places
        return [f"{p.name} / {p.name_en}" if p.name_en else p.name for p in units[:count]]
