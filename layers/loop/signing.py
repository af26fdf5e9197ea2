"""The audit log's signatures: canonical JSON, HMAC-SHA256 under the audit key, key ids.

A signed thing (an audit record, an anchor) carries `HMAC-SHA256(key, DOMAIN + canonical JSON of
its other fields)` in hex. The domain tag keeps one kind of signed thing from passing for another.
Whoever can write Redis but cannot read the key (`twin.settings.audit_key`, kept outside Redis)
cannot make a valid MAC, so an edited or re-chained record shows. `key_id` names a key without
revealing it, so `verify` can tell "signed with another key" from "edited". Records written
before the log was keyed carry a plain SHA-256 (`digest`) that anyone can recompute.
"""

from __future__ import annotations

import hashlib
import hmac
import json

RECORD = b"cityops-audit-record\n"   # domain tag of audit records
ANCHOR = b"cityops-audit-anchor\n"   # domain tag of anchors (signed checkpoints of the head)
_KEY_ID = b"cityops-audit-key-id"


def canonical(obj) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(obj) -> str:
    """Plain SHA-256 of the canonical JSON (records written before the log was keyed)."""
    return hashlib.sha256(canonical(obj).encode()).hexdigest()


def sign(key: bytes, domain: bytes, obj) -> str:
    """HMAC-SHA256 under `key` of the domain tag and the canonical JSON, in hex."""
    return hmac.new(key, domain + canonical(obj).encode(), hashlib.sha256).hexdigest()


def signed(key: bytes, domain: bytes, obj, mac: object) -> bool:
    """Whether `mac` is the MAC of `obj` under `key` (compared in constant time)."""
    return isinstance(mac, str) and hmac.compare_digest(sign(key, domain, obj), mac)


def key_id(key: bytes) -> str:
    """A short public name of a key (an HMAC of a constant: it reveals nothing of the key)."""
    return hmac.new(key, _KEY_ID, hashlib.sha256).hexdigest()[:16]
