"""A static file served from memory with an ETag (shared by the web chat and the console)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aiohttp import web


class StaticFile:
    """Read once at start-up; answers 304 when the browser already has this version."""

    def __init__(self, path: Path, content_type: str) -> None:
        self.body = path.read_bytes()
        self.content_type = content_type
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    def respond(self, request: web.Request, headers: dict[str, str]) -> web.Response:
        headers = {"ETag": self.etag, **headers}
        offered = {
            tag.strip().removeprefix("W/")
            for header in request.headers.getall("If-None-Match", [])
            for tag in header.split(",")
        }
        if self.etag in offered:
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=self.body, content_type=self.content_type, charset="utf-8", headers=headers
        )
