"""`cityops serve`: the dashboard alone, against a given Redis and twin; one process by default,
a fleet with `--workers N` (gunicorn) and `--celery`; `cityops jobs`: a worker of its background
jobs."""

from __future__ import annotations

import argparse
import os
import signal

from dashboard.commands.common import CliError, add_bus_args, add_twin_args, load_twin


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run the dashboard on http://HOST:PORT")
    add_twin_args(parser, required=False)
    parser.add_argument("--redis", metavar="URL",
                        help="the live bus (default $REDIS_URL, else the embedded Redis)")
    parser.add_argument("--prefix", default="cityops:", help="key prefix (default cityops:)")
    parser.add_argument("--no-bus", action="store_true",
                        help="serve the twin's static layers only, with no live bus")
    parser.add_argument("--users", metavar="FILE",
                        help="users file (default $CITYOPS_USERS, else data/users.yaml)")
    parser.add_argument("--open311-keys", metavar="K1,K2",
                        default=os.environ.get("CITYOPS_OPEN311_KEYS", ""),
                        help="API keys accepted by POST /open311/v2/requests.json")
    parser.add_argument("--tile-url", metavar="URL", default=os.environ.get("CITYOPS_TILE_URL"),
                        help="optional raster basemap, an XYZ template http://.../{z}/{x}/{y}.png")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="dashboard processes under gunicorn (default 1: one process, no "
                             "gunicorn); more than 1 runs background jobs on Celery")
    parser.add_argument("--celery", action="store_true",
                        help="run background jobs on Celery (Redis as broker) even with one "
                             "worker")
    parser.add_argument("--jobs-workers", type=int, default=1, metavar="K",
                        help="Celery workers to start beside the fleet (default 1; 0: they run "
                             "elsewhere, `cityops jobs`)")
    parser.set_defaults(func=run)

    jobs = sub.add_parser("jobs", help="run a Celery worker of the dashboard's background jobs "
                                       "(scenario runs) on the bus")
    add_twin_args(jobs, required=False)
    add_bus_args(jobs)
    jobs.add_argument("--concurrency", type=int, default=1, metavar="N",
                      help="jobs run at once by this worker (default 1)")
    jobs.set_defaults(func=run_jobs)


def _options(args: argparse.Namespace) -> dict:
    """What every fleet process needs to build the same app."""
    return {"twin": args.twin, "demo": args.demo, "resolution": args.demo_resolution,
            "prefix": args.prefix, "users": args.users, "tile_url": args.tile_url,
            "api_keys": sorted(k.strip() for k in getattr(args, "open311_keys", "").split(",")
                               if k.strip())}


def _connect(url: str | None, prefix: str):
    from layers.live.bus import BusError, connect

    try:
        return connect(url, prefix=prefix)
    except BusError as exc:
        raise CliError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    if not args.twin and not args.demo:
        args.demo = "binhai"
    fleet = args.workers > 1 or args.celery
    if args.workers < 1 or args.jobs_workers < 0:
        raise CliError(f"--workers must be at least 1 and --jobs-workers at least 0 (got "
                       f"{args.workers} and {args.jobs_workers})")
    if fleet and args.no_bus:
        raise CliError("--workers > 1 and --celery share state through Redis: drop --no-bus")
    twin = load_twin(args)  # checked (and cached) once before any process starts
    bus = None if args.no_bus else _connect(args.redis, args.prefix)
    try:
        if fleet:
            from dashboard.fleet import run_fleet

            print(f"CityOps Twin dashboard on http://{args.host}:{args.port} ({args.workers} "
                  f"processes, background jobs on Celery)", flush=True)
            return run_fleet(_options(args), bus, args.host, args.port, args.workers,
                             args.jobs_workers)
        return _serve_one(args, twin, bus)
    finally:
        if bus is not None:
            bus.close()  # an embedded server nobody else uses stops with us


def _serve_one(args: argparse.Namespace, twin, bus) -> int:
    from dashboard.app import create_app

    keys = {k.strip() for k in args.open311_keys.split(",") if k.strip()}
    try:
        app = create_app(twin, bus=bus, api_keys=keys, users=args.users, tile_url=args.tile_url)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc) if args.users is None or str(args.users) in str(exc)
                       else f"{args.users}: {exc}") from exc
    print(f"CityOps Twin dashboard on http://{args.host}:{args.port}", flush=True)
    if not keys:
        print("Open311 POST refuses every request: give keys with --open311-keys or "
              "$CITYOPS_OPEN311_KEYS", flush=True)

    def interrupt(*_) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):  # stop like Ctrl-C: the bus is closed
        signal.signal(sig, interrupt)
    try:
        app.run(host=args.host, port=args.port, debug=False)
    except KeyboardInterrupt:
        pass
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    from dashboard.fleet import run_jobs_worker
    from layers.live.bus import BusError
    from twin.settings import redis_url

    if not args.twin and not args.demo:
        args.demo = "binhai"
    if args.concurrency < 1:
        raise CliError(f"--concurrency must be at least 1, got {args.concurrency}")
    if not (args.redis or redis_url()):
        raise CliError("cityops jobs needs the dashboard's Redis: give --redis URL or set "
                       "$REDIS_URL (the URL `cityops serve` uses)")
    load_twin(args)
    bus = _connect(args.redis, args.prefix)
    options = {"twin": args.twin, "demo": args.demo, "resolution": args.demo_resolution,
               "prefix": args.prefix}
    try:
        return run_jobs_worker(options, bus.url, args.concurrency)
    except BusError as exc:
        raise CliError(str(exc)) from exc
    finally:
        bus.close()
