"""Where the dashboard's long callbacks (scenario runs) run: Dash background-callback managers.

One process (the default): a `DiskcacheManager`, jobs in child processes, its cache under
`$CITYOPS_HOME/dash-jobs`. A fleet (`cityops serve --workers N` or `--celery`): Dash's
`CeleryManager` on a Celery app whose broker and result backend are the bus's Redis, jobs run by
`cityops jobs` workers. Every key Celery and Dash write there sits under the bus prefix's `jobs:`
families (layers.keys); this module owns them but never touches the bus client: Celery opens
its own connections from the bus URL. Results themselves live in `dashboard.results`.
"""

from __future__ import annotations

from functools import lru_cache

from twin import settings


@lru_cache(maxsize=1)
def manager():
    """The one DiskcacheManager of this process (its cache under `$CITYOPS_HOME/dash-jobs`)."""
    import diskcache
    from dash import DiskcacheManager

    folder = settings.home() / "dash-jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return DiskcacheManager(diskcache.Cache(str(folder)))


def broker_url(url: str) -> str:
    """The bus URL as Celery spells it: `unix:///path` (the embedded server) becomes
    `redis+socket:///path`; redis:// and rediss:// stay as they are."""
    if url.startswith("unix://"):
        return "redis+socket://" + url.removeprefix("unix://")
    return url


def celery_app(url: str, keys):
    """A Celery app on the Redis at `url` (broker and result backend), its keys under
    `keys.jobs`; one job at a time per worker process, acknowledged when done."""
    from celery import Celery

    options = {"global_keyprefix": keys.jobs}
    app = Celery("cityops", broker=broker_url(url), backend=broker_url(url))
    app.conf.update(broker_transport_options=options, result_backend_transport_options=options,
                    broker_connection_retry_on_startup=True, task_acks_late=True,
                    worker_prefetch_multiplier=1, result_expires=3600,
                    worker_hijack_root_logger=False)
    return app


@lru_cache(maxsize=4)
def _celery_manager(url: str, prefix: str):
    from dash import CeleryManager

    from layers.keys import Keys

    keys = Keys(prefix)

    class JobsManager(CeleryManager):
        """Dash's CeleryManager with its result keys under the bus prefix (`jobs:dash:`)."""

        SIGNING_SECRET_KEY = keys.job_result("signing")

        def build_cache_key(self, fn, args, cache_args_to_ignore, triggered):
            return keys.job_result(super().build_cache_key(fn, args, cache_args_to_ignore,
                                                           triggered))

    return JobsManager(celery_app(url, keys), expire=3600)


def celery_manager(bus):
    """The Celery manager of a fleet on `bus` (one per bus URL and prefix in a process)."""
    return _celery_manager(bus.url, bus.prefix)
