"""The widget's script and stylesheet, served as plain files (there is no build step)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"


class _Asset:
    def __init__(self, path: Path, content_type: str) -> None:
        self.body = path.read_bytes()
        self.content_type = content_type
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'

    def respond(self, request: web.Request) -> web.Response:
        headers = {
            "ETag": self.etag,
            # Shops embed the script on every page: let browsers keep it briefly and
            # revalidate cheaply, so an upgrade reaches every visitor within minutes.
            "Cache-Control": "public, max-age=300",
            "Access-Control-Allow-Origin": "*",
        }
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


class WidgetAssets:
    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        self._script = _Asset(static_dir / "widget.js", "text/javascript")
        self._stylesheet = _Asset(static_dir / "widget.css", "text/css")

    async def script(self, request: web.Request) -> web.Response:
        return self._script.respond(request)

    async def stylesheet(self, request: web.Request) -> web.Response:
        return self._stylesheet.respond(request)
