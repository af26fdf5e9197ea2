"""Fines paid by scanning a code (扫码缴纳罚款): payment requests, their QR URL, signed callbacks.

A penalty decision yields a `PaymentRequest` (`payments:req`): a random id (not countable), the
enforcement case, the amount in fen, the department, when it is due, and the payment URL of the
configured gateway, which the pages show as a QR code. The gateway is a URL template with
`{payment}` and `{amount_yuan}` ($CITYOPS_PAYMENT_GATEWAY); by default it is the local
`Simulator`, at `$CITYOPS_PUBLIC_URL/pay/sim/{payment}`.

A gateway says a request was paid by calling back over HTTP with a JSON body
`{"payment", "amount_fen", "txn", "paid_at"}` and three headers:

    X-CityOps-Timestamp: epoch seconds
    X-CityOps-Nonce:     16-64 characters of [A-Za-z0-9_-], new for every call
    X-CityOps-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{nonce}." + body)>

under the payment secret ($CITYOPS_PAYMENT_SECRET, else made once under the home:
`twin.settings.payment_secret`). `verify` checks them (`layers.loop.enforcement` records
the payment and refuses and logs everything else). `Simulator` is the default gateway: it records
the payments it takes (`payments:sim`) and calls back as a real gateway does, signed, over HTTP.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from layers.live.bus import Bus
from twin import settings

SIGNATURE = "X-CityOps-Signature"
TIMESTAMP = "X-CityOps-Timestamp"
NONCE = "X-CityOps-Nonce"
WINDOW_S = 300.0          # a callback's time may differ from ours by this much
NONCE_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_BODY = 4096
STATUSES = ("open", "paid", "cancelled")
REFUSED_KEPT = 10_000


class CallbackRefused(ValueError):
    """A payment callback that is refused: the HTTP status and the reason (logged, answered)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class PaymentRequest:
    """What a party is asked to pay for a decision, and how (the gateway's URL)."""

    id: str
    case: str
    department: str
    amount_fen: int
    created: float
    due: float | None
    url: str
    gateway: str
    on_site: bool = False
    status: str = "open"
    paid_at: float | None = None
    txn: str | None = None

    @property
    def amount_yuan(self) -> float:
        return self.amount_fen / 100

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

    @staticmethod
    def from_json(raw: str | bytes) -> PaymentRequest:
        return PaymentRequest(**json.loads(raw))


@dataclass(frozen=True)
class PaymentNotice:
    """A gateway's word that a request was paid (the body of a verified callback)."""

    payment: str
    amount_fen: int
    txn: str
    paid_at: float


def gateway() -> tuple[str, str]:
    """(name, URL template) of the payment gateway: $CITYOPS_PAYMENT_GATEWAY, else the simulator."""
    template = settings.payment_gateway()
    if template:
        return "external", template
    return "simulator", settings.public_url() + "/pay/sim/{payment}"


def new_request(case: str, department: str, amount_fen: int, now: float, due: float | None,
                on_site: bool) -> PaymentRequest:
    """A new payment request with a random id and the gateway's URL for it."""
    name, template = gateway()
    pid = "P" + secrets.token_hex(10)
    url = template.format(payment=pid, amount_yuan=f"{amount_fen / 100:.2f}")
    return PaymentRequest(pid, case, department, int(amount_fen), now, due, url, name, on_site)


# -- the signature -----------------------------------------------------------------------------------
def sign(secret: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """The signature header's value of a callback: v1=hex HMAC-SHA256."""
    mac = hmac.new(secret, f"{timestamp}.{nonce}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(secret: bytes, body: bytes, now: float | None = None) -> dict[str, str]:
    """The three headers a gateway sends with `body` (a fresh nonce each time)."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = secrets.token_urlsafe(18)
    return {TIMESTAMP: timestamp, NONCE: nonce, SIGNATURE: sign(secret, timestamp, nonce, body),
            "Content-Type": "application/json"}


def verify(secret: bytes, headers, body: bytes, now: float) -> tuple[str, PaymentNotice]:
    """(nonce, notice) of a well-signed, timely callback; CallbackRefused (401/400) otherwise.
    The nonce is not checked against earlier ones here: `PaymentStore.use_nonce` does that."""
    if len(body) > MAX_BODY:
        raise CallbackRefused(413, f"callback body over {MAX_BODY} bytes")
    timestamp, nonce = headers.get(TIMESTAMP) or "", headers.get(NONCE) or ""
    signature = headers.get(SIGNATURE) or ""
    if not (timestamp and nonce and signature):
        raise CallbackRefused(401, f"unsigned callback: send {TIMESTAMP}, {NONCE} and "
                                   f"{SIGNATURE} (see layers/loop/payments.py)")
    if not re.fullmatch(r"[0-9]{1,12}", timestamp) or not NONCE_RE.fullmatch(nonce):
        raise CallbackRefused(401, f"malformed {TIMESTAMP} or {NONCE}: epoch seconds, and 16-64 "
                                   f"characters of [A-Za-z0-9_-]")
    if abs(int(timestamp) - now) > WINDOW_S:
        raise CallbackRefused(401, f"stale callback: its timestamp is {int(timestamp) - now:+.0f} "
                                   f"s from ours (allowed +-{WINDOW_S:.0f} s): check the clocks")
    expected = sign(secret, timestamp, nonce, body)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise CallbackRefused(401, "bad signature: the callback was not signed with the payment "
                                   "secret ($CITYOPS_PAYMENT_SECRET)")
    return nonce, parse_notice(body)


def parse_notice(body: bytes) -> PaymentNotice:
    try:
        raw = json.loads(body.decode("utf-8"))
        notice = PaymentNotice(str(raw["payment"]), int(raw["amount_fen"]), str(raw["txn"]),
                               float(raw["paid_at"]))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise CallbackRefused(400, f"callback body is not {{payment, amount_fen, txn, paid_at}} "
                                   f"JSON ({type(exc).__name__})") from exc
    if notice.amount_fen <= 0 or not 0 < len(notice.txn) <= 128:
        raise CallbackRefused(400, "amount_fen must be positive and txn 1-128 characters")
    return notice


# -- the store ---------------------------------------------------------------------------------------
class PaymentStore:
    """Owns `payments:*`: the requests, the nonces of accepted callbacks, the simulator's log."""

    def __init__(self, bus: Bus) -> None:
        self.redis, self.keys, self.home = bus.redis, bus.keys, bus.home

    def _k(self, name: str) -> str:
        return self.keys.payments(name)

    def get(self, pid: str) -> PaymentRequest | None:
        raw = self.redis.hget(self._k("req"), pid)
        return PaymentRequest.from_json(raw) if raw else None

    def all(self) -> list[PaymentRequest]:
        return [PaymentRequest.from_json(v) for v in self.redis.hvals(self._k("req"))]

    def queue_save(self, pipe, request: PaymentRequest) -> None:
        pipe.hset(self._k("req"), request.id, request.to_json())

    def use_nonce(self, nonce: str) -> bool:
        """True the first time a nonce is used (it is then kept for twice the time window)."""
        return bool(self.redis.set(self._k(f"nonce:{nonce}"), "1", nx=True,
                                   ex=int(2 * WINDOW_S)))

    def secret(self) -> bytes:
        return settings.payment_secret(self.home)

    def refused(self, status: int, reason: str, addr: str, now: float) -> None:
        """Log a refused callback (the last `REFUSED_KEPT` are kept)."""
        self.redis.xadd(self._k("refused"), {"status": status, "reason": reason[:500],
                                             "addr": addr[:64], "ts": now},
                        maxlen=REFUSED_KEPT, approximate=True)

    def refusals(self) -> list[dict]:
        return [{k.decode(): v.decode() for k, v in fields.items()}
                for _id, fields in self.redis.xrange(self._k("refused"))]

    # -- the simulator's own records ---------------------------------------------------------------
    def record_simulated(self, txn: str, request: PaymentRequest, paid_at: float) -> None:
        self.redis.hset(self._k("sim"), txn, json.dumps(
            {"payment": request.id, "amount_fen": request.amount_fen, "paid_at": paid_at}))

    def simulated(self) -> dict[str, dict]:
        return {k.decode(): json.loads(v) for k, v in self.redis.hgetall(self._k("sim")).items()}


class Simulator:
    """The default gateway: takes a payment, records it, and calls back signed over HTTP."""

    def __init__(self, bus: Bus, callback_url: str | None = None,
                 post: Callable[[str, bytes, dict], int] | None = None) -> None:
        self.store = PaymentStore(bus)
        self.callback_url = callback_url or settings.public_url() + "/api/v1/payments/callback"
        self.post = post or http_post

    def pay(self, pid: str, now: float | None = None) -> tuple[str, int]:
        """Pay request `pid` in full: (transaction id, the HTTP status of our callback)."""
        request = self.store.get(pid)
        if request is None:
            raise ValueError(f"no payment request {pid!r}")
        if request.status != "open":
            raise ValueError(f"payment request {pid} is {request.status}, not open")
        paid_at = time.time() if now is None else now
        txn = "SIM" + secrets.token_hex(8)
        self.store.record_simulated(txn, request, paid_at)
        body = json.dumps({"payment": pid, "amount_fen": request.amount_fen, "txn": txn,
                           "paid_at": paid_at}).encode()
        return txn, self.post(self.callback_url, body, signed_headers(self.store.secret(), body))


def http_post(url: str, body: bytes, headers: dict) -> int:
    """POST and return the HTTP status (an HTTP error's status too)."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as reply:  # noqa: S310 - our own URL
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
