"""Every Redis key of the product: its name, type, owning store and what it holds (one place).

No other module spells a key: stores ask a `Keys` object for the names of their family. The
table `FAMILIES` is the reference (docs/ARCHITECTURE.md prints it; a test checks that every key
a running system writes matches one family and that only the owner modules touch the client).
All keys carry one configurable prefix (default `cityops:`), so several twins or test runs can
share one Redis.

Redis Cluster: a transaction must stay in one hash slot, so keys written together carry one hash
tag right after the prefix. An ingest partition's streams, dead letters, lease and state carry
`{p<n>}` (when there is more than one partition), the snapshot keys `{snap}`, the vehicles'
tracks `{tracks}` and the closed loop's keys `{loop}` (on a cluster), e.g. `cityops:{p3}:state:minutes`,
`cityops:{loop}:cases:state`. On a single Redis with one partition the names have no tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PREFIX = "cityops:"
KINDS = ("iot", "video", "incident", "vehicle")  # layers.live.schema describes each
GROUPS = {"ingest": "the ingest worker", "rules": "the rules engine",
          "notify": "the notification dispatcher"}


@dataclass(frozen=True)
class Family:
    """One key family: pattern after the prefix, Redis type, owning module, what it holds."""

    pattern: str
    type: str
    owner: str
    holds: str


FAMILIES: tuple[Family, ...] = (
    # -- the live pipeline -------------------------------------------------------------------------
    Family("events:{kind}", "stream", "layers.live.bus", "events of one kind (iot, video, "
           "incident, vehicle): flat entries or Arrow batches; groups ingest and rules read it"),
    Family("dead", "stream", "layers.live.bus", "dead letters: the entry or row that failed, "
           "the reason, the stream"),
    Family("ingest:lease", "string", "layers.live.checkpoint", "token of the worker holding the "
           "ingest lease (expires)"),
    Family("ingest:epoch", "string", "layers.live.checkpoint", "counter bumped by every lease "
           "take-over; a checkpoint from an older epoch is refused"),
    Family("state:meta", "hash", "layers.live.checkpoint", "ingest totals, twin fingerprint, "
           "layout signature, heartbeat, rate"),
    Family("state:minutes", "hash", "layers.live.checkpoint", "minute -> sparse per-cell state "
           "of the last 24 h"),
    Family("state:totals", "hash", "layers.live.checkpoint", "minute -> events of each kind "
           "(JSON), the last 24 h"),
    Family("state:idhours", "set", "layers.live.checkpoint", "hours that have an id-hash list"),
    Family("state:ids:{hour}", "string", "layers.live.checkpoint", "uint64 hashes of the event "
           "ids counted in one hour (exactly-once)"),
    Family("snap:{window}:{layer}", "string", "layers.live.snapshot", "float32 per cell in the "
           "twin's order (NaN: no reading)"),
    Family("snap:cells", "string", "layers.live.snapshot", "uint64 cell ids of the snapshot "
           "arrays"),
    Family("snap:meta", "hash", "layers.live.snapshot", "snapshot version, time, cell count"),
    Family("snap:changes", "stream", "layers.live.snapshot", "per version: changed layers and "
           "the positions of the changed cells"),
    Family("health:{service}", "hash", "layers.live.health", "a long-running part's state, "
           "since, restarts, last error, heartbeat"),
    Family("ingest:layout", "hash", "layers.live.producer", "the ingest partitions producers and "
           "workers agree on (count, level, bounds, twin fingerprint)"),
    Family("ingest:members", "zset", "layers.live.fleet", "ingest processes alive (heartbeat "
           "time): each takes its share of the partitions"),
    Family("tracks:last", "hash", "layers.live.tracks", "inspection vehicle -> its last accepted "
           "fix (time, WGS-84 point, heading): the jump check's reference, the wall's marker"),
    Family("tracks:cells:{day}", "set", "layers.live.tracks", "uint64 cells the inspection "
           "vehicles covered on one city day (YYYYMMDD; kept 15 days)"),
    Family("ratelimit:{source}", "hash", "layers.live.ratelimit", "a source's token bucket at "
           "the HTTP event API (tokens, time; a digest of the API key's name; expires when "
           "full)"),
    # -- the closed loop ---------------------------------------------------------------------------
    Family("rules:meta", "hash", "layers.loop.rulestate", "rules engine heartbeat, consumer"),
    Family("rules:seen:{hour}", "set", "layers.loop.rulestate", "event ids the rules engine "
           "handled in one hour (a redelivery is a no-op)"),
    Family("rules:layer:{rule}", "hash", "layers.loop.rulestate", "a layer rule's per-cell "
           "episode state (with the twin's fingerprint)"),
    Family("rules:episodes:{rule}", "hash", "layers.loop.rulestate", "an event rule's open "
           "episodes (place -> last time)"),
    Family("rules:recent:{rule}", "zset", "layers.loop.rulestate", "a cluster rule's recent "
           "matching events"),
    Family("alerts:seq", "string", "layers.loop.alerts", "alert id counter"),
    Family("alerts:state", "hash", "layers.loop.alerts", "alert id -> Alert JSON"),
    Family("alerts:created", "zset", "layers.loop.alerts", "alert ids by time"),
    Family("alerts:public", "hash", "layers.loop.alerts", "public id (CAP identifier and URL, "
           "not enumerable) -> alert id"),
    Family("cases:seq", "string", "layers.loop.cases", "case id counter"),
    Family("cases:state", "hash", "layers.loop.cases", "case id -> Case JSON (folded from the "
           "audit log)"),
    Family("cases:created", "zset", "layers.loop.cases", "case ids by opening time"),
    Family("cases:open", "set", "layers.loop.cases", "ids of open cases"),
    Family("cases:status:{status}", "set", "layers.loop.cases", "case ids by status"),
    Family("cases:dept:{department}", "set", "layers.loop.cases", "case ids of a department"),
    Family("cases:open:dept:{department}", "set", "layers.loop.cases", "open case ids of a "
           "department"),
    Family("cases:grid:{grid}", "set", "layers.loop.cases", "case ids of a governance grid"),
    Family("cases:open:geo:{category}", "zset", "layers.loop.cases", "GEO set of open cases of "
           "a category (joining a new alert)"),
    Family("cases:deadline", "zset", "layers.loop.cases", "open case ids by next deadline"),
    Family("cases:escalate", "zset", "layers.loop.cases", "open case ids that can still climb, "
           "by deadline"),
    Family("cases:category:{category}", "set", "layers.loop.cases", "case ids of a category"),
    Family("cases:categories", "set", "layers.loop.cases", "every category a case was opened "
           "in"),
    Family("cases:done", "zset", "layers.loop.cases", "resolved case ids by resolution time "
           "(a reopened case leaves it)"),
    Family("cases:timing", "hash", "layers.loop.cases", "case id -> the scorecards' columns of "
           "the case (times, SLA limits, grid, departments) as a JSON list"),
    Family("cases:by_event", "hash", "layers.loop.cases", "event id -> case id"),
    Family("cases:by_alert", "hash", "layers.loop.cases", "alert id -> case id"),
    Family("audit:log", "list", "layers.loop.audit", "the audit records: hash-chained, "
           "each sealed with an HMAC under the audit key (kept outside Redis)"),
    Family("audit:head", "hash", "layers.loop.audit", "last sequence number, hash and "
           "audit key id (anchored outside Redis)"),
    Family("audit:subject:{subject}", "list", "layers.loop.audit", "sequence numbers of one "
           "subject's records"),
    Family("enforce:seq", "string", "layers.loop.enforcement", "enforcement case id counter"),
    Family("enforce:state", "hash", "layers.loop.enforcement", "enforcement case id -> "
           "EnforcementCase JSON (folded from the audit log)"),
    Family("enforce:created", "zset", "layers.loop.enforcement", "enforcement case ids by "
           "opening time"),
    Family("enforce:open", "set", "layers.loop.enforcement", "ids of open enforcement cases"),
    Family("enforce:dept:{department}", "set", "layers.loop.enforcement", "enforcement case "
           "ids of a department"),
    Family("enforce:deadline", "zset", "layers.loop.enforcement", "open enforcement case ids by "
           "the deadline of their current stage"),
    Family("enforce:by_basis", "hash", "layers.loop.enforcement", "basis (draw:<seq>:<target> "
           "or complaint:<case>) -> the enforcement case it opened"),
    Family("enforce:flagged", "set", "layers.loop.enforcement", "enforcement case ids a "
           "supervisor flagged for review"),
    Family("payments:req", "hash", "layers.loop.payments", "payment request id (random) -> "
           "PaymentRequest JSON"),
    Family("payments:nonce:{nonce}", "string", "layers.loop.payments", "nonce of an accepted "
           "payment callback (expires after twice the time window: replays are refused)"),
    Family("payments:sim", "hash", "layers.loop.payments", "the simulator gateway's own "
           "records: transaction id -> payment, amount, time"),
    Family("payments:refused", "stream", "layers.loop.payments", "refused payment callbacks: "
           "status, reason, address (capped)"),
    Family("outbox", "stream", "layers.loop.notify", "messages waiting for a gateway"),
    Family("outbox:dead", "stream", "layers.loop.notify", "messages no gateway could deliver"),
    Family("outbox:attempts", "hash", "layers.loop.notify", "delivery attempts per message"),
    Family("parking:vehicles", "hash", "layers.loop.parking", "vehicle -> sighting state"),
    Family("parking:kpi", "hash", "layers.loop.parking", "reminders, left in time, cases"),
    # -- protocols and the dashboard ---------------------------------------------------------------
    Family("open311:req", "hash", "layers.protocols.open311", "service request id (random, "
           "not enumerable) -> stored request"),
    Family("open311:requests", "zset", "layers.protocols.open311", "request ids by time"),
    Family("open311:media", "hash", "layers.protocols.open311", "service request id -> the "
           "photo uploaded with it (or empty for a media_url), until it is on the request's case"),
    Family("scenario:active", "string", "dashboard.overlay", "the what-if shown on the wall"),
    Family("sessions:{sid}", "string", "dashboard.session_store", "user name of a live "
           "dashboard session (random id; expires when idle, deleted on logout)"),
    Family("login:fails:{subject}", "string", "dashboard.throttle", "failed sign-ins of one "
           "user or address (a digest) in the current window; expires with the window"),
    Family("scenario:runs", "zset", "dashboard.results", "ids of the last scenario results, by "
           "time"),
    Family("scenario:run:{run}", "string", "dashboard.results", "one scenario result: NetCDF "
           "bytes (zlib)"),
    Family("scenario:about", "hash", "dashboard.results", "run id -> what the run is (name, "
           "hazard, when; the name it was saved under and by whom)"),
    Family("scenario:saved", "zset", "dashboard.results", "ids of the runs a planner saved (kept "
           "past the last few), by when saved"),
    # -- the dashboard's background jobs (Celery and Dash write these, under `jobs:`) ------------
    Family("jobs:_kombu.{binding}", "set", "dashboard.background", "Celery's routing bindings "
           "of a queue and their bookkeeping (kombu)"),
    Family("jobs:unacked", "hash", "dashboard.background", "jobs a worker took and has not "
           "acknowledged (kombu)"),
    Family("jobs:unacked_index", "zset", "dashboard.background", "those jobs by time (kombu)"),
    Family("jobs:unacked_mutex", "string", "dashboard.background", "lock for restoring "
           "unacknowledged jobs (kombu)"),
    Family("jobs:celery-task-meta-{task}", "string", "dashboard.background", "a job's state "
           "(Celery result backend)"),
    Family("jobs:dash:{key}", "string", "dashboard.background", "a background callback's result,"
           " progress and set_props; the callbacks' signing secret (Dash)"),
    Family("jobs:{queue}", "list", "dashboard.background", "the queue of jobs waiting for a "
           "Celery worker (kombu)"),
)

OWNERS = frozenset(f.owner for f in FAMILIES)


PARTITION_GROUP = ("events:", "dead", "ingest:lease", "ingest:epoch", "state:")
LOOP_GROUP = ("rules:", "alerts:", "cases:", "audit:", "outbox", "parking:", "open311:",
              "enforce:", "payments:")
_TAG = re.compile(r"\{[a-z0-9_]+\}:")


def _regex(pattern: str) -> re.Pattern:
    parts = re.split(r"\{[a-z_]+\}", pattern)
    return re.compile("".join(re.escape(p) + ("[^ ]+" if i < len(parts) - 1 else "")
                              for i, p in enumerate(parts)) + r"\Z")


_REGEXES = [(_regex(f.pattern), f) for f in FAMILIES]
_CASE_HEADS = frozenset(f.pattern.split(":")[1] for f in FAMILIES if f.pattern.startswith("cases:"))


def check_kind(kind: str) -> str:
    """The event kind, or a ValueError naming the kinds."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}: use one of {', '.join(KINDS)}")
    return kind


class Keys:
    """Key names under one prefix. Methods are named after the families in `FAMILIES`."""

    def __init__(self, prefix: str = DEFAULT_PREFIX, cluster: bool = False,
                 partition: int | None = None) -> None:
        if not prefix or any(c in prefix for c in " *?[]{}\n\r"):
            raise ValueError(f"bad key prefix {prefix!r}: use letters, digits and ':' "
                             f"(e.g. cityops:)")
        self.prefix, self.cluster, self.partition_no = prefix, cluster, partition

    def partition(self, p: int | None) -> Keys:
        """The names of one ingest partition's keys (p None: the only partition, no tag)."""
        return Keys(self.prefix, self.cluster, p)

    def _k(self, name: str) -> str:
        tag = None
        if name.startswith(PARTITION_GROUP) and self.partition_no is not None:
            tag = f"p{self.partition_no}"
        elif self.cluster and name.startswith("snap:"):
            tag = "snap"
        elif self.cluster and name.startswith("tracks:"):
            tag = "tracks"
        elif self.cluster and name.startswith(LOOP_GROUP):
            tag = "loop"
        return f"{self.prefix}{{{tag}}}:{name}" if tag else f"{self.prefix}{name}"

    def family(self, key: str | bytes) -> Family | None:
        """The family a full key name belongs to (None: not one of ours)."""
        key = key.decode() if isinstance(key, bytes) else key
        if not key.startswith(self.prefix):
            return None
        rest = _TAG.sub("", key[len(self.prefix):], count=1)
        return next((f for rx, f in _REGEXES if rx.match(rest)), None)

    def every(self, family: str) -> str:
        """A SCAN pattern matching every key of one family, e.g. `every('state:ids:{hour}')`."""
        if family not in {f.pattern for f in FAMILIES}:
            raise ValueError(f"{family!r} is not a key family (see layers.keys.FAMILIES)")
        return self._k(re.sub(r"\{[a-z_]+\}", "*", family))

    def streams_text(self) -> str:
        """The event streams, for people (`cityops:events:{iot,video,incident}`)."""
        return self._k("events:{" + ",".join(KINDS) + "}")

    # live ------------------------------------------------------------------------------------------
    def stream(self, kind: str) -> str:
        return self._k(f"events:{check_kind(kind)}")

    @property
    def dead(self) -> str:
        return self._k("dead")

    @property
    def ingest_lease(self) -> str:
        return self._k("ingest:lease")

    @property
    def ingest_epoch(self) -> str:
        return self._k("ingest:epoch")

    @property
    def state_meta(self) -> str:
        return self._k("state:meta")

    @property
    def state_minutes(self) -> str:
        return self._k("state:minutes")

    @property
    def state_totals(self) -> str:
        return self._k("state:totals")

    @property
    def state_idhours(self) -> str:
        return self._k("state:idhours")

    def state_ids(self, hour: int) -> str:
        return self._k(f"state:ids:{int(hour)}")

    def snap(self, window: str, layer: str) -> str:
        return self._k(f"snap:{window}:{layer}")

    @property
    def snap_cells(self) -> str:
        return self._k("snap:cells")

    @property
    def snap_meta(self) -> str:
        return self._k("snap:meta")

    @property
    def snap_changes(self) -> str:
        return self._k("snap:changes")

    def health(self, service: str) -> str:
        return self._k(f"health:{service}")

    @property
    def ingest_layout(self) -> str:
        return self._k("ingest:layout")

    @property
    def ingest_members(self) -> str:
        return self._k("ingest:members")

    def tracks(self, name: str) -> str:
        """`tracks:last` or `tracks:cells:{day}` (day: YYYYMMDD)."""
        if name != "last" and not re.fullmatch(r"cells:[0-9]{8}", name):
            raise ValueError(f"no tracks key {name!r}: use 'last' or 'cells:YYYYMMDD'")
        return self._k(f"tracks:{name}")

    def ratelimit(self, subject: str) -> str:
        """`ratelimit:{source}`: one source's token bucket (`subject`: a digest)."""
        return self._k(f"ratelimit:{_token(subject, 'rate-limit subject')}")

    # loop ------------------------------------------------------------------------------------------
    @property
    def rules_meta(self) -> str:
        return self._k("rules:meta")

    def rules_seen(self, hour: int) -> str:
        return self._k(f"rules:seen:{int(hour)}")

    def rule_layer(self, rule: str) -> str:
        return self._k(f"rules:layer:{rule}")

    def rule_episodes(self, rule: str) -> str:
        return self._k(f"rules:episodes:{rule}")

    def rule_recent(self, rule: str) -> str:
        return self._k(f"rules:recent:{rule}")

    def alerts(self, name: str) -> str:
        """`alerts:seq`, `alerts:state`, `alerts:created` or `alerts:public`."""
        if name not in ("seq", "state", "created", "public"):
            raise ValueError(f"no alerts key {name!r}")
        return self._k(f"alerts:{name}")

    def cases(self, name: str) -> str:
        """A case-store key after `cases:`, e.g. `state`, `open`, `grid:12`, `status:new`."""
        head = name.split(":", 1)[0]
        if head not in _CASE_HEADS:
            raise ValueError(f"no case key {name!r}: see layers.keys.FAMILIES")
        return self._k(f"cases:{name}")

    def audit(self, name: str) -> str:
        """`audit:log`, `audit:head` or `audit:subject:{subject}`."""
        key = self._k(f"audit:{name}")
        if self.family(key) is None:
            raise ValueError(f"no audit key {name!r}")
        return key

    def outbox(self, name: str = "") -> str:
        """`outbox`, `outbox:dead` or `outbox:attempts`."""
        if name not in ("", "dead", "attempts"):
            raise ValueError(f"no outbox key {name!r}")
        return self._k("outbox" + (f":{name}" if name else ""))

    def parking(self, name: str) -> str:
        if name not in ("vehicles", "kpi"):
            raise ValueError(f"no parking key {name!r}")
        return self._k(f"parking:{name}")

    def enforce(self, name: str) -> str:
        """`enforce:seq|state|created|open|deadline|flagged|by_basis` or `enforce:dept:{department}`."""
        key = self._k(f"enforce:{name}")
        if self.family(key) is None:
            raise ValueError(f"no enforcement key {name!r}: see layers.keys.FAMILIES")
        return key

    def payments(self, name: str) -> str:
        """`payments:req|sim|refused` or `payments:nonce:{nonce}`."""
        if name.startswith("nonce:"):
            return self._k(f"payments:nonce:{_token(name[6:], 'nonce')}")
        if name not in ("req", "sim", "refused"):
            raise ValueError(f"no payments key {name!r}")
        return self._k(f"payments:{name}")

    # protocols and the dashboard ------------------------------------------------------------------
    def open311(self, name: str) -> str:
        if name not in ("req", "requests", "media"):
            raise ValueError(f"no open311 key {name!r}")
        return self._k(f"open311:{name}")

    @property
    def scenario_active(self) -> str:
        return self._k("scenario:active")

    @property
    def scenario_runs(self) -> str:
        return self._k("scenario:runs")

    def scenario_run(self, run_id: str) -> str:
        return self._k(f"scenario:run:{run_id}")

    @property
    def scenario_about(self) -> str:
        return self._k("scenario:about")

    @property
    def scenario_saved(self) -> str:
        return self._k("scenario:saved")

    @property
    def jobs(self) -> str:
        """The prefix of every key Celery (broker and results) writes: `jobs:` families."""
        return self._k("jobs:")

    def job_result(self, key: str) -> str:
        """A Dash background callback's result key (`-progress`, `-set_props` follow it)."""
        return self._k(f"jobs:dash:{key}")

    def session(self, sid: str) -> str:
        """`sessions:{sid}`: one live dashboard session."""
        return self._k(f"sessions:{_token(sid, 'session id')}")

    def login_fails(self, subject: str) -> str:
        """`login:fails:{subject}`: a failed-login counter (`user:<digest>`, `addr:<digest>`)."""
        return self._k(f"login:fails:{_token(subject, 'login subject')}")


def _token(text: str, what: str) -> str:
    """A key part made by the program (random ids, digests): refuse anything else."""
    if not re.fullmatch(r"[A-Za-z0-9_:.-]{1,128}", text or ""):
        raise ValueError(f"bad {what} {text!r}: expected letters, digits, '_', '-', ':' or '.'")
    return text
