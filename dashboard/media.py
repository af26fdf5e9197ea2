"""Uploaded photos kept on disk (`$CITYOPS_HOME/media`): a size limit, the type read from the
file's first bytes (never from its name or the client's word), random names, owner-only files.

`MediaStore.save(data)` keeps a JPEG, PNG, GIF or WebP image of at most `max_bytes` under a
random id and returns the id; `open(id)` gives its path and type back. Who may fetch a photo is
the caller's to decide (Open311: whoever may see the request's case).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from twin import settings

# magic bytes -> (MIME type, extension); WebP is RIFF....WEBP
TYPES = ((b"\xff\xd8\xff", "image/jpeg", "jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
         (b"GIF87a", "image/gif", "gif"), (b"GIF89a", "image/gif", "gif"))
_ID = re.compile(r"[0-9a-f]{32}\.(jpg|png|gif|webp)")


class MediaError(ValueError):
    """A file that is not kept: `code` is the HTTP status (413 too large, 415 not an image)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def image_type(data: bytes) -> tuple[str, str] | None:
    """(MIME type, extension) of an image from its first bytes, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return next(((mime, ext) for magic, mime, ext in TYPES if data.startswith(magic)), None)


class MediaStore:
    """Image files under one folder (default `$CITYOPS_HOME/media`)."""

    def __init__(self, folder: str | Path | None = None, max_bytes: int | None = None) -> None:
        self.folder = Path(folder) if folder else settings.media_dir()
        self.max_bytes = max_bytes or settings.media_max_bytes()

    def save(self, data: bytes) -> str:
        """Keep an image; its id (random, with the extension of its real type)."""
        if len(data) > self.max_bytes:
            raise MediaError(413, f"the file is over the {self.max_bytes:,} byte limit "
                                  f"($CITYOPS_MEDIA_MAX_BYTES): send a smaller photo")
        kind = image_type(data)
        if kind is None:
            raise MediaError(415, "the file is not a JPEG, PNG, GIF or WebP image: send a photo")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        media = f"{secrets.token_hex(16)}.{kind[1]}"
        fd = os.open(self.folder / media, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return media

    def open(self, media: str) -> tuple[Path, str] | None:
        """(path, MIME type) of a kept image, or None (unknown or malformed id)."""
        if not _ID.fullmatch(media or ""):
            return None
        path = self.folder / media
        if not path.is_file():
            return None
        with path.open("rb") as f:
            kind = image_type(f.read(16))
        return (path, kind[0]) if kind else None

    def delete(self, media: str | None) -> None:
        if media and _ID.fullmatch(media):
            (self.folder / media).unlink(missing_ok=True)
