"""Photos attached to cases (a resolution's proof): stored under `$CITYOPS_HOME/media/{case}/`,
refused above a size limit or when their bytes are not a JPEG, PNG or WebP image (the magic
bytes decide, never the file name), served only to users who may see the case.

Kept apart from the pages so that another door (Open311 media) can store and serve the same way.
A stored photo is named by the SHA-256 of its bytes, so a name never comes from the uploader.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from pathlib import Path

from twin import settings

MAX_BYTES = 5 * 1024 * 1024
MAGIC = {"jpg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",)}
MIME = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
NAME = re.compile(r"[0-9a-f]{64}\.(jpg|png|webp)\Z")
CASE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


class MediaError(ValueError):
    """A photo that cannot be stored; the message says why and what is accepted."""


def kind_of(data: bytes) -> str | None:
    """'jpg', 'png' or 'webp' from the file's first bytes; None for anything else."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((k for k, heads in MAGIC.items() if any(data.startswith(h) for h in heads)),
                None)


def folder(home: str | Path | None = None) -> Path:
    return Path(home) if home else settings.home() / "media"


def from_upload(contents: str) -> bytes:
    """The bytes of a browser upload (a `data:...;base64,` URL), size-checked before decoding."""
    if not isinstance(contents, str) or "," not in contents:
        raise MediaError("a photo upload is a data URL (data:image/...;base64,...)")
    payload = contents.split(",", 1)[1]
    if len(payload) > (MAX_BYTES * 4) // 3 + 8:
        raise MediaError(f"a photo may be at most {MAX_BYTES // (1024 * 1024)} MB")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError("the photo upload is not valid base64") from exc


def save(case_id: str, data: bytes, home: str | Path | None = None) -> str:
    """Store a photo of a case; its name (`{sha256}.{jpg|png|webp}`)."""
    if not CASE.match(str(case_id)):
        raise MediaError(f"bad case id {case_id!r}")
    if len(data) > MAX_BYTES:
        raise MediaError(f"a photo may be at most {MAX_BYTES // (1024 * 1024)} MB, this one is "
                         f"{len(data) / 1024 / 1024:.1f} MB")
    kind = kind_of(data)
    if kind is None:
        raise MediaError("only JPEG, PNG or WebP photos are accepted")
    name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
    target = folder(home) / case_id / name
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.chmod(0o600)
        tmp.replace(target)
    return name


def path_of(case_id: str, name: str, home: str | Path | None = None) -> Path | None:
    """The stored file of a photo, or None when the id or name is not one we make or it is
    not there (never a path outside the media folder)."""
    if not CASE.match(str(case_id)) or not NAME.match(str(name)):
        return None
    path = folder(home) / case_id / name
    return path if path.is_file() else None


def url(case_id: str, name: str) -> str:
    return f"/media/{case_id}/{name}"


def register_routes(server, can_see) -> None:
    """GET /media/<case>/<name>: the photo, to a logged-in user for whom `can_see(case_id)`
    holds (404 for an unknown photo, 403 otherwise)."""
    from flask import abort, send_file

    @server.route("/media/<case_id>/<name>")
    def media(case_id: str, name: str):
        if not can_see(case_id):
            abort(403)
        path = path_of(case_id, name)
        if path is None:
            abort(404)
        reply = send_file(path, mimetype=MIME[path.suffix[1:]], max_age=3600)
        reply.headers["X-Content-Type-Options"] = "nosniff"
        reply.headers["Cache-Control"] = "private, max-age=3600"
        return reply
