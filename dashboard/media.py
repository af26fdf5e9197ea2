"""Photos attached to cases (a resolution's proof): stored under `$CITYOPS_HOME/media/{case}/`,
refused above a size limit (checked before anything is decoded) or when their bytes are not a
JPEG, PNG or WebP image (the magic bytes decide, never the file name nor the declared type),
written 0600 in 0700 folders, served only to users who may see the case.

Kept apart from the pages (no page code here) so that another door (Open311 media) stores and
serves the same way. A stored photo is named by the SHA-256 of its bytes, so a name never comes
from the uploader and the same photo is kept once per case.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from twin import settings

MAX_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_CHARS = (MAX_BYTES + 2) // 3 * 4 + 64  # a data URL of MAX_BYTES: base64 + its header
MAGIC = {"jpg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",)}
MIME = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
NAME = re.compile(r"[0-9a-f]{64}\.(jpg|png|webp)\Z")
CASE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


class MediaError(ValueError):
    """A photo that cannot be stored; the message says why and what is accepted, `reason` is
    a code a UI can word in its own language: too_big, not_image, bad_upload, bad_case."""

    def __init__(self, message: str, reason: str = "bad_upload"):
        super().__init__(message)
        self.reason = reason


def _too_big(size: int) -> MediaError:
    return MediaError(f"a photo may be at most {MAX_BYTES // (1024 * 1024)} MB, this one is "
                      f"{size / 1024 / 1024:.1f} MB", "too_big")


def kind_of(data: bytes) -> str | None:
    """'jpg', 'png' or 'webp' from the file's first bytes; None for anything else."""
    head = bytes(data[:16])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((k for k, heads in MAGIC.items() if any(head.startswith(h) for h in heads)),
                None)


def folder(home: str | Path | None = None) -> Path:
    """The media folder: `{home}/media`, home defaulting to `$CITYOPS_HOME`."""
    return (Path(home) if home else settings.home()) / "media"


def from_upload(contents: str) -> bytes:
    """The bytes of a browser upload (a `data:...;base64,` URL); its length is checked before
    it is decoded, so an oversized upload costs no memory beyond the request itself."""
    if not isinstance(contents, str) or not contents.startswith("data:") or "," not in contents:
        raise MediaError("a photo upload is a data URL (data:image/...;base64,...)")
    header, payload = contents.split(",", 1)
    if not header.endswith(";base64"):
        raise MediaError("a photo upload is a base64 data URL (data:image/...;base64,...)")
    if len(payload) > (MAX_BYTES + 2) // 3 * 4:
        raise _too_big(len(payload) * 3 // 4)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError("the photo upload is not valid base64") from exc


def save(case_id: str, data: bytes, home: str | Path | None = None) -> str:
    """Store a photo of a case; returns its name (`{sha256}.{jpg|png|webp}`).

    Raises MediaError for a bad case id, more than MAX_BYTES, or bytes that are not an image
    of an accepted kind. The file is written whole (a temporary file renamed) with mode 0600."""
    if not isinstance(case_id, str) or not CASE.match(case_id):
        raise MediaError(f"bad case id {str(case_id)[:70]!r}", "bad_case")
    if len(data) > MAX_BYTES:
        raise _too_big(len(data))
    kind = kind_of(data)
    if kind is None:
        raise MediaError("only JPEG, PNG or WebP photos are accepted", "not_image")
    name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
    base = folder(home)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = base / case_id / name
    target.parent.mkdir(mode=0o700, exist_ok=True)
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")  # created 0600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return name


def path_of(case_id: str, name: str, home: str | Path | None = None) -> Path | None:
    """The stored file of a photo, or None when the id or name is not one we make or it is
    not there (never a path outside the media folder)."""
    if not CASE.match(str(case_id)) or not NAME.match(str(name)):
        return None
    path = folder(home) / case_id / name
    return path if path.is_file() else None


def url(case_id: str, name: str) -> str:
    """The address a photo is served at (`register_routes`)."""
    return f"/media/{case_id}/{name}"


def register_routes(server, can_see: Callable[[str], bool | None],
                    home: str | Path | None = None) -> None:
    """GET /media/<case>/<name> on a Flask server: the photo, to a user for whom
    `can_see(case_id)` is true; 403 when it is false, 404 when it is None (no such case) or
    the photo is not there. Authentication is the caller's (the app's guard runs first)."""
    from flask import abort, send_file

    @server.route("/media/<case_id>/<name>")
    def media(case_id: str, name: str):
        if not CASE.match(case_id):
            abort(404)
        seen = can_see(case_id)
        if seen is None:
            abort(404)
        if not seen:
            abort(403)
        path = path_of(case_id, name, home)
        if path is None:
            abort(404)
        reply = send_file(path, mimetype=MIME[path.suffix[1:]], max_age=3600)
        reply.headers["X-Content-Type-Options"] = "nosniff"
        reply.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        reply.headers["Cache-Control"] = "private, max-age=3600"
        return reply
