"""The demo's embedded MQTT broker (amqtt, a maintained pure-Python broker): no install needed.

It listens on 127.0.0.1:1883 ($CITYOPS_MQTT_PORT) for the user `cityops` with a password made
on first start and kept in `$CITYOPS_HOME/mqtt/password` (0600; the broker gets its Argon2
hash); anonymous clients are refused. It runs on an asyncio loop in a thread of its own, and
stops with the demo. With `--broker URL` the demo uses an external broker instead.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from pathlib import Path

from twin.settings import home, number, private_file

DEFAULT_PORT = 1883
USER = "cityops"


def credentials(folder: Path | None = None) -> tuple[str, str]:
    """(user, password) of the embedded broker (the password made once, 0600)."""
    folder = folder or home() / "mqtt"
    path = private_file(folder / "password", lambda: secrets.token_urlsafe(18))
    return USER, path.read_text().strip()


class EmbeddedBroker:
    """amqtt on 127.0.0.1:`port` with one password user, in a background thread."""

    def __init__(self, port: int | None = None, folder: Path | None = None) -> None:
        self.port = int(number("CITYOPS_MQTT_PORT", DEFAULT_PORT)) if port is None else port
        self.folder = folder or home() / "mqtt"
        self.user, self.password = credentials(self.folder)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _password_file(self) -> Path:
        from pwdlib import PasswordHash
        from pwdlib.hashers.argon2 import Argon2Hasher

        path = self.folder / "users"
        hashed = PasswordHash((Argon2Hasher(),)).hash(self.password)
        private_file(path, lambda: "")
        path.write_text(f"{self.user}:{hashed}\n", encoding="utf-8")
        return path

    def start(self, timeout_s: float = 30.0) -> EmbeddedBroker:
        from amqtt.broker import Broker

        config = {"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                  "plugins": {"amqtt.plugins.authentication.FileAuthPlugin":
                              {"password_file": str(self._password_file())}}}

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._broker = Broker(config, loop=self._loop)
                self._loop.run_until_complete(self._broker.start())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="mqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            raise RuntimeError(f"the embedded MQTT broker could not start on 127.0.0.1:"
                               f"{self.port}: {self._error}; set CITYOPS_MQTT_PORT to a free "
                               f"port or pass --broker mqtt://host:port")
        return self

    def stop(self) -> None:
        if self._loop is None or self._broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            future.result(timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=30)
