"""`cityops twin build | info | export`: make a twin from a city's files, describe it, export it.

Only argparse is imported at the top: `cityops twin info` must stay quick and never load Dash.
"""

from __future__ import annotations

import argparse
import sys

from dashboard.commands.common import DEMOS, CliError, demo_twin, load_twin, print_json

EXPORT_FORMATS = {"geojson": (".geojson", ".json"), "geoparquet": (".parquet", ".geoparquet")}


def register(subparsers) -> None:
    """Add the `twin` command group."""
    parser = subparsers.add_parser("twin", help="build, describe and export a city twin",
                                   description="Build, describe and export a city twin.")
    sub = parser.add_subparsers(dest="twin_command", metavar="ACTION", required=True)
    _add_build(sub)
    info = sub.add_parser("info", help="print a JSON summary of a twin folder or the demo twin")
    info.add_argument("folder", metavar="DIR", nargs="?", help="a twin folder")
    info.add_argument("--demo", choices=DEMOS, help="a built-in demo twin instead")
    info.add_argument("--demo-resolution", type=int, default=9, metavar="R",
                      help="H3 resolution of the demo twin (default 9)")
    info.set_defaults(func=_info)
    export = sub.add_parser("export", help="write the twin's cells as GeoJSON or GeoParquet")
    export.add_argument("folder", metavar="DIR", help="a twin folder")
    export.add_argument("--format", choices=sorted(EXPORT_FORMATS),
                        help="output format (default: from the --out suffix)")
    export.add_argument("--variables", nargs="+", metavar="VAR",
                        help="cell variables to include (default: all static ones)")
    export.add_argument("--out", required=True, metavar="FILE", help="file to write")
    export.set_defaults(func=_export)


def _add_build(sub) -> None:
    build = sub.add_parser(
        "build", help="build a twin folder from boundary/units/population/... files",
        description="Vector files: GeoJSON, GeoPackage, Shapefile or GeoParquet. Population: a "
                    "CSV of lat,lng,count or polygons with a count column. Elevation: a CSV of "
                    "lat,lng,elevation_m or a netCDF grid. Facilities: points with id, name, "
                    "kind (+ capacity).")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--boundary", metavar="FILE", help="polygons of the city boundary")
    source.add_argument("--demo", choices=DEMOS, help="write a built-in demo twin: binhai (one "
                        "district) or tianjin (the whole city)")
    build.add_argument("--units", metavar="FILE", help="street/town polygons")
    build.add_argument("--population", metavar="FILE", help="residents: points or polygons")
    build.add_argument("--elevation", metavar="FILE", help="ground elevation: points or grid")
    build.add_argument("--facilities", metavar="FILE", help="facility points")
    build.add_argument("--resolution", type=int, required=True, metavar="R",
                       help="H3 resolution 0-15 (9: about 0.1 km2 per cell)")
    build.add_argument("--crs", choices=["wgs84", "gcj02", "bd09"], default="wgs84",
                       help="coordinate system of the input files' lng/lat: wgs84 (default), "
                            "gcj02 (AMap, Tencent) or bd09 (Baidu); the twin is WGS-84")
    build.add_argument("--name", help="twin name (default: the boundary file's name)")
    build.add_argument("--timezone", default="Asia/Shanghai", metavar="TZ",
                       help="the city's IANA time zone for every clock shown (default "
                            "Asia/Shanghai)")
    build.add_argument("--out", required=True, metavar="DIR", help="folder to write the twin to")
    build.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> int:
    from twin.build import build_from_files
    from twin.errors import TwinInputError

    try:
        if args.demo:
            twin, report = _demo(args), {"warnings": []}
        else:
            twin, report = build_from_files(
                args.boundary, resolution=args.resolution, units=args.units,
                population=args.population, elevation=args.elevation,
                facilities=args.facilities, name=args.name, crs=args.crs,
                timezone=args.timezone)
    except TwinInputError as exc:
        raise CliError(str(exc)) from exc
    for line in report["warnings"]:
        print(f"cityops: warning: {line}", file=sys.stderr)
    twin.save(args.out)
    print_json({"out": str(args.out), **twin.summary()})
    return 0


def _demo(args: argparse.Namespace):
    twin = demo_twin(args.resolution, name=args.demo)
    if args.name:
        twin.meta["name"] = args.name
    return twin


def _load(folder: str):
    from twin import Twin, TwinInputError

    try:
        return Twin.load(folder)
    except (OSError, TwinInputError, ValueError, KeyError) as exc:
        raise CliError(" ".join(str(exc).split())) from exc


def _info(args: argparse.Namespace) -> int:
    if (args.folder is None) == (args.demo is None):
        raise CliError("give a twin folder DIR or --demo binhai|tianjin (one of them)")
    print_json((load_twin(args) if args.demo else _load(args.folder)).summary())
    return 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    fmt = args.format or _format_from_suffix(args.out)
    twin = _load(args.folder)
    try:
        frame = twin.to_geodataframe(args.variables)
    except KeyError as exc:
        raise CliError(f"{args.folder}: {exc.args[0]}") from exc
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "geojson":
        from twin import geojson

        geojson.write(frame, out)  # RFC 7946: 7 decimals, no crs member
    else:
        frame.to_parquet(out, index=False)
    print(f"wrote {len(frame)} cells to {out} ({fmt})", file=sys.stderr)
    return 0


def _format_from_suffix(path: str) -> str:
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    for fmt, suffixes in EXPORT_FORMATS.items():
        if suffix in suffixes:
            return fmt
    raise CliError(f"{path}: cannot tell the format from the name: add --format geojson or "
                   f"--format geoparquet")
