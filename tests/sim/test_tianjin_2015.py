"""The 12 August 2015 Tianjin Port explosion example against what was reported.

Report: the State Council investigation report (February 2016): site at 39°02'22.98"N
117°44'11.64"E; second blast about 430 t TNT; the "accident centre zone", the worst-damaged
area, about 540,000 m^2. Press: China Real Estate News (中国房地产报, 15 August 2015): residential
communities damaged at about 500 m (Vanke Harbour City), 1 km, 1.3 km, 1.5 km and 2 km.
"""

from pathlib import Path

import numpy as np
import pytest

from sim import Scenario, blast

SCENARIO = Path(__file__).resolve().parents[2] / "data" / "scenarios" / \
    "tianjin-2015-08-12-explosion.yaml"


@pytest.fixture(scope="module")
def scenario():
    return Scenario.load(SCENARIO)


def test_the_example_is_the_reported_second_blast_at_the_reported_site(scenario):
    assert scenario.params.tnt_kg == 430_000
    lat = 39 + 2 / 60 + 22.98 / 3600
    lng = 117 + 44 / 60 + 11.64 / 3600
    assert scenario.location.lat == pytest.approx(lat, abs=1e-5)
    assert scenario.location.lng == pytest.approx(lng, abs=1e-5)


def test_near_complete_destruction_reaches_the_reports_centre_zone(scenario):
    centre_zone_radius = np.sqrt(540_000 / np.pi)  # the circle of the reported area, 415 m
    severe = {z.key: z for z in blast.ZONES}["severe_damage"]
    radius = blast.zone_radius_m(scenario.params.tnt_kg, severe.kpa)
    assert radius == pytest.approx(centre_zone_radius, rel=0.10)


@pytest.mark.parametrize("distance_m", [500, 1000, 1300, 1500, 2000])
def test_every_community_reported_damaged_lies_inside_the_glass_breakage_zone(scenario,
                                                                              distance_m):
    glass = {z.key: z for z in blast.ZONES}["glass_breakage"]
    assert blast.overpressure_kpa(scenario.params.tnt_kg, distance_m) >= glass.kpa


@pytest.mark.parametrize("distance_m", [500, 1000, 1300, 1500])
def test_communities_within_1_5_km_lie_in_the_minor_house_damage_zone_or_worse(scenario,
                                                                                distance_m):
    minor = {z.key: z for z in blast.ZONES}["minor_damage"]
    assert blast.overpressure_kpa(scenario.params.tnt_kg, distance_m) >= minor.kpa
