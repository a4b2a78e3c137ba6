"""The widget's script and stylesheet, served as plain files (there is no build step)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from channels.static_files import StaticFile

STATIC_DIR = Path(__file__).resolve().parent / "static"


# Shops embed the script on every page: let browsers keep it briefly and revalidate
# cheaply, so an upgrade reaches every visitor within minutes.
HEADERS = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}


class WidgetAssets:
    def __init__(self, static_dir: Path = STATIC_DIR) -> None:
        self._script = StaticFile(static_dir / "widget.js", "text/javascript")
        self._stylesheet = StaticFile(static_dir / "widget.css", "text/css")

    async def script(self, request: web.Request) -> web.Response:
        return self._script.respond(request, HEADERS)

    async def stylesheet(self, request: web.Request) -> web.Response:
        return self._stylesheet.respond(request, HEADERS)
