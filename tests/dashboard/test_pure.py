"""Pure functions behind the pages: labels, colours, map specs, cards."""

import json
import re

import h3
import numpy as np
import pytest

from dashboard import cards, maps
from dashboard.i18n import LABELS, LANGS, other, t


def test_every_label_exists_in_both_languages():
    import dashboard.pages.command  # noqa: F401 - pages register their own labels
    import dashboard.pages.grid  # noqa: F401

    for key, texts in LABELS.items():
        assert set(texts) == set(LANGS), key
        assert all(texts[lang].strip() for lang in LANGS), key


def test_language_switch_alternates():
    assert other("zh") == "en" and other("en") == "zh"
    assert t("nav_grid", "en") == "Grid" and t("nav_grid", "zh") == "网格"


def test_colours_follow_the_ramp_from_low_to_high():
    rgba = maps.colors(np.array([0.0, 0.5, 1.0]))
    assert rgba.shape == (3, 4) and rgba.dtype == np.uint8
    np.testing.assert_array_equal(rgba[0, :3], maps.RAMP[0])
    np.testing.assert_array_equal(rgba[-1, :3], maps.RAMP[-1])


def test_value_layer_carries_hex_ids_of_populated_land_cells(small):
    layer = maps.value_layer(small, "population")
    assert layer["@@type"] == "H3HexagonLayer"
    hexes = {r["hex"] for r in layer["data"]}
    land = small.ds["is_land"].values & (small.ds["population"].values > 0)
    assert hexes == {h3.int_to_str(int(c)) for c in small.cell_ids[land]}


def test_deck_spec_draws_the_basemap_first_and_needs_no_tiles(small):
    spec = maps.deck(small, [maps.value_layer(small, "elevation_m")])
    assert spec["layers"][0]["id"] == "basemap" and spec["mapStyle"] is None
    text, version = maps.basemap_geojson(small)
    assert spec["layers"][0]["data"] == f"{maps.BASEMAP_PATH}?v={version}"
    kinds = [f["properties"]["kind"] for f in json.loads(text)["features"]]
    assert {"sea", "land", "unit"} <= set(kinds)


def test_the_basemap_version_names_its_content(small, demo_twin):
    assert maps.basemap_geojson(small)[1] != maps.basemap_geojson(demo_twin)[1]


def test_basemap_coordinates_are_snapped_to_about_a_metre(small):
    text, _ = maps.basemap_geojson(small)
    numbers = re.findall(r"-?\d+\.\d+", text)
    assert numbers and max(len(n.split(".")[1]) for n in numbers) <= 5


def test_view_state_centres_on_the_land(small):
    view = maps.view_state(small)
    lat, lng = small.centers
    land = small.ds["is_land"].values
    assert lat[land].min() < view["latitude"] < lat[land].max()
    assert 3 <= view["zoom"] <= 16


def test_kpis_count_the_registries(small):
    k = cards.kpis(small)
    assert k["kpi_population"] == small.ds["population"].sum()
    assert k["kpi_sensors"] == len(small.sensors)


def test_grid_options_are_limited_to_the_unit(small):
    options = cards.grid_options(small, 0)
    assert options and all(small.grids.set_index("grid").loc[o["value"], "unit"] == 0
                           for o in options)


def test_grid_card_sums_residents_and_lists_what_is_inside(small):
    grid = int(small.grids["grid"].iloc[0])
    card = cards.grid_card(small, grid)
    cells = small.ds["grid"].values == grid
    assert card["card_residents"] == small.ds["population"].values[cells].sum()
    assert card["card_cells"] == cells.sum()


def test_grid_card_of_unknown_grid_is_an_error(small):
    with pytest.raises(KeyError, match="no grid"):
        cards.grid_card(small, 9999)


def test_cli_json_is_strict_non_finite_numbers_print_as_null(capsys):
    import json

    import numpy as np

    from dashboard.commands.common import print_json

    print_json({"a": float("inf"), "b": [float("nan"), 1.5], "c": np.float32("inf")})
    assert json.loads(capsys.readouterr().out) == {"a": None, "b": [None, 1.5], "c": None}
