"""The console's page, script and stylesheet: plain files, no build step."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from channels.static_files import StaticFile

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The page loads only its own script and stylesheet and talks only to this server.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class ConsoleAssets:
    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        self._page = StaticFile(static_dir / "console.html", "text/html")
        self._script = StaticFile(static_dir / "console.js", "text/javascript")
        self._stylesheet = StaticFile(static_dir / "console.css", "text/css")

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
