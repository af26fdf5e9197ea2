"""A served fleet: the dashboard under gunicorn (N processes) with its background jobs on Celery.

`cityops serve --workers N` (or `--celery`) runs `run_fleet`: the bus is opened here (an embedded
Redis is started and owned by this process), then gunicorn and the Celery workers are started as
processes of their own (`python -m gunicorn 'dashboard.fleet:wsgi()'`, `cityops jobs`), so none
of them inherits this process's Redis server or client. They share nothing but Redis and the
session key (`twin.settings.secret`): each loads the twin and opens the bus itself, from the
serve options passed in `$CITYOPS_SERVE` (JSON) and the bus URL in `$REDIS_URL`. SIGINT, SIGTERM
or SIGHUP stop them all, then the embedded Redis.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

SERVE_ENV = "CITYOPS_SERVE"
STOP_TIMEOUT_S = 30.0


def options_from_env() -> dict:
    """The serve options a fleet process was started with (`$CITYOPS_SERVE`)."""
    raw = os.environ.get(SERVE_ENV)
    if not raw:
        raise RuntimeError(f"${SERVE_ENV} is not set: start the fleet with `cityops serve "
                           f"--workers N`")
    return json.loads(raw)


def load_twin(options: dict):
    """The twin the options name: a folder (`twin`) or a demo (`demo`, `resolution`)."""
    from twin import Twin
    from twin.demo import demo

    if options.get("twin"):
        return Twin.load(options["twin"])
    return demo(options.get("demo") or "binhai", resolution=int(options.get("resolution", 9)))


def build_app(options: dict, bus):
    """The Dash app of one fleet process, its background callbacks on Celery."""
    from dashboard.app import create_app
    from dashboard.background import celery_manager

    return create_app(load_twin(options), bus=bus, api_keys=set(options.get("api_keys", [])),
                      users=options.get("users"), tile_url=options.get("tile_url"),
                      jobs=celery_manager(bus))


def wsgi():
    """gunicorn's application factory (`dashboard.fleet:wsgi()`): one worker's Flask server."""
    from layers.live.bus import connect

    options = options_from_env()
    bus = connect(os.environ["REDIS_URL"], prefix=options.get("prefix", "cityops:"))
    return ready(build_app(options, bus)).server


def ready(app):
    """Set the app up now, not at its first request: Dash learns which script files it may serve
    while it renders its first page, and a fleet process whose first request is one of those
    files (the page came from another process) would otherwise answer it with an error."""
    with app.server.test_request_context("/"):
        app._setup_server()  # noqa: SLF001  (Dash's own first-request setup, run early)
    return app


def run_jobs_worker(options: dict, url: str, concurrency: int = 1) -> int:
    """A Celery worker of the dashboard's background jobs, in this process, until SIGTERM or
    SIGINT (Celery's warm shutdown: the running job finishes first)."""
    from dashboard.background import celery_manager
    from layers.live.bus import connect

    bus = connect(url, prefix=options.get("prefix", "cityops:"))
    build_app(options, bus)  # imports the pages: their background callbacks become tasks
    celery = celery_manager(bus).handle
    celery.worker_main(["worker", "--loglevel=WARNING", f"--concurrency={int(concurrency)}",
                        "--pool=prefork", "--without-gossip", "--without-mingle",
                        f"--hostname=cityops-jobs-{os.getpid()}@%h"])
    return 0


def _env(options: dict, url: str) -> dict:
    env = dict(os.environ)
    env[SERVE_ENV] = json.dumps(options)
    env["REDIS_URL"] = url
    return env


def gunicorn_command(host: str, port: int, workers: int, threads: int = 4) -> list[str]:
    """The gunicorn command line of a fleet of `workers` processes."""
    return [sys.executable, "-m", "gunicorn", "--workers", str(int(workers)), "--threads",
            str(int(threads)), "--worker-class", "gthread", "--bind", f"{host}:{port}",
            "--timeout", "120", "--graceful-timeout", "10", "--access-logfile", "-",
            "--log-level", "warning", "dashboard.fleet:wsgi()"]


def jobs_command(options: dict, concurrency: int) -> list[str]:
    """The command line of a jobs worker with the same twin (`cityops jobs`)."""
    twin = ["--twin", options["twin"]] if options.get("twin") else [
        "--demo", options.get("demo") or "binhai", "--demo-resolution",
        str(options.get("resolution", 9))]
    return [sys.executable, "-m", "dashboard.cli", "jobs", *twin, "--prefix",
            options.get("prefix", "cityops:"), "--concurrency", str(int(concurrency))]


def stop(procs: list[subprocess.Popen], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM each process, wait for all, SIGKILL what is still running."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_fleet(options: dict, bus, host: str, port: int, workers: int,
              jobs_workers: int = 1, concurrency: int = 1) -> int:
    """gunicorn with `workers` processes + `jobs_workers` Celery workers on `bus`, until one of
    them ends or SIGINT/SIGTERM/SIGHUP; everything started here is stopped before returning."""
    env = _env(options, bus.url)
    stopping = threading.Event()
    old = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    for sig in old:
        signal.signal(sig, lambda *_: stopping.set())
    parts: dict[str, subprocess.Popen] = {}
    try:
        parts["gunicorn"] = subprocess.Popen(gunicorn_command(host, port, workers), env=env)
        for k in range(jobs_workers):
            parts[f"jobs worker {k + 1}"] = subprocess.Popen(jobs_command(options, concurrency),
                                                             env=env)
        while not stopping.wait(0.5):
            for name, proc in parts.items():
                if proc.poll() is not None:
                    print(f"cityops serve: the {name} ended (exit {proc.returncode}); stopping "
                          f"the fleet", file=sys.stderr, flush=True)
                    return 1
        return 0
    finally:
        stop(list(parts.values()))
        for sig, handler in old.items():
            signal.signal(sig, handler)
