"""The console's page, script and stylesheet: plain files, no build step."""

from __future__ import annotations

import hashlib
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The page loads only its own script and stylesheet and talks only to this server.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class _Asset:
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


class ConsoleAssets:
    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        self._page = _Asset(static_dir / "console.html", "text/html")
        self._script = _Asset(static_dir / "console.js", "text/javascript")
        self._stylesheet = _Asset(static_dir / "console.css", "text/css")

    def page(self, request: web.Request) -> web.Response:
        return self._page.respond(
            request,
            {
                "Cache-Control": "no-cache",
                "Content-Security-Policy": CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def script(self, request: web.Request) -> web.Response:
        return self._script.respond(request, {"Cache-Control": "no-cache"})

    async def stylesheet(self, request: web.Request) -> web.Response:
        return self._stylesheet.respond(request, {"Cache-Control": "no-cache"})
