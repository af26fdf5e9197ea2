"""The event contract: kinds, fields, vocabularies, and the live-layer channels derived from them.

Kinds: `iot` (sensor readings), `video` (detections of fixed cameras; `track` there is an
object's track id within one camera's view), `incident` (hotline, grid, app, 110/119/120
reports) and `vehicle`: the fixes of a mobile inspection vehicle (城市体检智能巡检): its id,
position, heading and speed, optionally one detection (road damage, garbage, illegal parking,
broken facilities) with a confidence. A vehicle is its own kind, not a `track` field on video:
most fixes carry no detection (a fix says where the vehicle has looked, which is what coverage
counts), the platform moves (a camera does not), and its fixes are judged as a sequence (an
impossible jump between consecutive fixes is refused at the door, `layers.live.tracks`).
"""

from __future__ import annotations

from dataclasses import dataclass

from layers.keys import KINDS

COMMON_FIELDS = ("id", "ts", "lat", "lng", "crs")
KIND_FIELDS = {
    "iot": ("sensor", "metric", "value"),
    "video": ("camera", "label", "count", "confidence", "track", "plate"),
    "incident": ("source", "category", "severity", "text"),
    "vehicle": ("vehicle", "heading", "speed_kmh", "detection", "confidence", "text"),
}
REQUIRED = {
    "iot": ("id", "ts", "lat", "lng", "sensor", "metric", "value"),
    "video": ("id", "ts", "lat", "lng", "camera", "label"),
    "incident": ("id", "ts", "lat", "lng", "source", "category", "severity"),
    "vehicle": ("id", "ts", "lat", "lng", "vehicle"),
}
METRICS = ("water_level_m", "rain_mm_h", "pm25", "co_ppm", "temp_c", "smoke",
           # weather stations: what a toxic-release what-if started from live readings needs
           "wind_speed_m_s", "wind_from_deg", "cloud_tenths", "solar_w_m2")
LABELS = ("person", "vehicle", "crowd", "smoke", "fire", "thrown_object", "illegal_parking",
          "fever")
CATEGORIES = ("waterlogging", "gas_leak", "fire", "crowd", "thrown_object", "illegal_parking",
              "noise", "garbage", "road_damage", "streetlight", "water_supply", "epidemic",
              "facility_damage", "other")
DETECTIONS = ("road_damage", "garbage", "illegal_parking", "broken_facility")
DETECTION_CATEGORY = {  # what an inspection vehicle's detection is, as a case category
    "road_damage": "road_damage", "garbage": "garbage", "illegal_parking": "illegal_parking",
    "broken_facility": "facility_damage"}
SOURCES = ("hotline", "grid_inspector", "app", "110", "119", "120")
CRS = ("wgs84", "gcj02", "bd09")
WINDOWS = {"5m": 5, "1h": 60, "24h": 1440}  # window name -> minutes

MAX_ID_BYTES = 128
MAX_TEXT_CHARS = 1000
MAX_FIELD_BYTES = 4096
FUTURE_TOLERANCE_S = 300.0

# Numeric bounds per field (a value outside is dead-lettered with the bound it broke). They are
# physical or product limits, wide enough for any real reading, narrow enough that no value can
# overflow a float32 layer or turn into Infinity.
METRIC_BOUNDS = {  # iot `value` by metric: (low, high)
    "water_level_m": (-20.0, 100.0), "rain_mm_h": (0.0, 500.0), "pm25": (0.0, 5_000.0),
    "co_ppm": (0.0, 50_000.0), "temp_c": (-80.0, 80.0), "smoke": (0.0, 1.0),
    "wind_speed_m_s": (0.0, 120.0), "wind_from_deg": (0.0, 360.0), "cloud_tenths": (0.0, 10.0),
    "solar_w_m2": (0.0, 1_500.0),
}
VIDEO_COUNT_MAX = 100_000.0  # people/vehicles in one detection
# A vehicle's reported speed: the national maximum is 120 km/h on expressways (道路交通安全法实施
# 条例 art. 78); 250 km/h leaves room for any road vehicle and GPS noise, and refuses garbage.
VEHICLE_SPEED_MAX_KMH = 250.0
SEVERITIES = (1.0, 2.0, 3.0, 4.0)


@dataclass(frozen=True)
class Limits:
    """Size limits on what enters the pipeline, checked BEFORE anything is decoded.

    Settings: $CITYOPS_MAX_ENTRY_BYTES (one stream entry, default 16 MB),
    $CITYOPS_MAX_DECODED_BYTES (an Arrow batch once decompressed, default 64 MB),
    $CITYOPS_MAX_BATCH_ROWS (rows of one Arrow batch, default 1,000,000),
    $CITYOPS_MAX_FIELD_BYTES (one field of one event, default 4096),
    $CITYOPS_DEAD_EXCERPT_BYTES (what a dead letter keeps of a long field, default 256).
    """

    entry_bytes: int = 16 * 2**20
    decoded_bytes: int = 64 * 2**20
    batch_rows: int = 1_000_000
    field_bytes: int = MAX_FIELD_BYTES
    dead_excerpt: int = 256

    @staticmethod
    def from_settings() -> Limits:
        from twin.settings import number

        d = Limits()
        return Limits(int(number("CITYOPS_MAX_ENTRY_BYTES", d.entry_bytes)),
                      int(number("CITYOPS_MAX_DECODED_BYTES", d.decoded_bytes)),
                      int(number("CITYOPS_MAX_BATCH_ROWS", d.batch_rows)),
                      int(number("CITYOPS_MAX_FIELD_BYTES", d.field_bytes)),
                      int(number("CITYOPS_DEAD_EXCERPT_BYTES", d.dead_excerpt)))


def sum_channels() -> list[str]:
    """Names of the additive per-cell channels (counts, metric n and sums)."""
    names = [f"{k}.count" for k in KINDS]
    names += [f"video.{label}.count" for label in LABELS]
    names += [f"incident.{c}.count" for c in CATEGORIES]
    names += [f"iot.{m}.n" for m in METRICS] + [f"iot.{m}.sum" for m in METRICS]
    names += [f"vehicle.{d}.count" for d in DETECTIONS]
    return names


SUM_CHANNELS = sum_channels()
SUM_INDEX = {name: i for i, name in enumerate(SUM_CHANNELS)}
CH_KIND = {k: SUM_INDEX[f"{k}.count"] for k in KINDS}
CH_LABEL0 = SUM_INDEX[f"video.{LABELS[0]}.count"]
CH_CATEGORY0 = SUM_INDEX[f"incident.{CATEGORIES[0]}.count"]
CH_N0 = SUM_INDEX[f"iot.{METRICS[0]}.n"]
CH_SUM0 = SUM_INDEX[f"iot.{METRICS[0]}.sum"]
CH_DETECTION0 = SUM_INDEX[f"vehicle.{DETECTIONS[0]}.count"]


def layer_names() -> list[str]:
    """Every live layer name, e.g. `iot.count`, `video.person.count`, `iot.pm25.mean`."""
    names = [f"{k}.count" for k in KINDS]
    names += [f"video.{label}.count" for label in LABELS]
    names += [f"incident.{c}.count" for c in CATEGORIES]
    names += [f"iot.{m}.{agg}" for m in METRICS for agg in ("mean", "max", "last")]
    names += [f"vehicle.{d}.count" for d in DETECTIONS]
    return names


LAYERS = layer_names()

METRIC_UNITS = {"water_level_m": "m", "rain_mm_h": "mm h-1", "pm25": "ug m-3", "co_ppm": "ppm",
                "temp_c": "degC", "smoke": "1", "wind_speed_m_s": "m s-1",
                "wind_from_deg": "degree", "cloud_tenths": "1", "solar_w_m2": "W m-2",
                }  # UDUNITS spellings, for files and APIs


def layer_variable(name: str) -> str:
    """A layer's name as a netCDF/CF variable name (`video.person.count` -> `video__person__count`)."""
    return check_layer(name).replace(".", "__")


def layer_attrs(name: str, per: str = "in the minute") -> dict:
    """CF attributes of a layer's values: UDUNITS units and a long name saying what it holds."""
    parts = check_layer(name).split(".")
    if parts[-1] == "count":
        what = " ".join(p.replace("_", " ") for p in parts[:-1])
        return {"units": "1", "long_name": f"number of {what} events {per}", "layer": name}
    metric, agg = parts[1], parts[2]
    return {"units": METRIC_UNITS[metric], "layer": name,
            "long_name": f"{agg} of {metric.replace('_', ' ')} readings {per}"}


def check_layer(name: str) -> str:
    """The layer name, or a ValueError naming the known layers."""
    if name not in LAYERS:
        raise ValueError(f"unknown layer {name!r}: see `cityops layers list` "
                         f"(e.g. {', '.join(LAYERS[:4])})")
    return name


def check_window(name: str) -> str:
    """The window name, or a ValueError naming the known windows."""
    if name not in WINDOWS:
        raise ValueError(f"unknown window {name!r}: use one of {', '.join(WINDOWS)}")
    return name


def signature() -> str:
    """A short fingerprint of the channel layout, stored with the state to detect changes."""
    import hashlib

    text = "|".join(SUM_CHANNELS) + "#" + "|".join(METRICS)
    return hashlib.sha1(text.encode()).hexdigest()[:12]
