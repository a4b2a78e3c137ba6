"""The aiohttp application: health, readiness and every channel's routes."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import text

from bot.bootstrap import Runtime
from memory.migrate import current_revision, head_revision
from memory.queues import pending_event_count

log = logging.getLogger(__name__)

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)


async def healthz(_request: web.Request) -> web.Response:
    """The process is up and serving."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the database answers and is migrated; lists what is on."""
    runtime = request.app[RUNTIME]
    body: dict[str, Any] = {
        "channels": sorted(runtime.channels),
        "staff": sorted(runtime.services),
        "worker": "embedded" if runtime.worker is not None else "separate",
        "policy_version": runtime.policy.version,
    }
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        revision = await current_revision(runtime.engine)
        body["pending_events"] = await pending_event_count(runtime.read_factory)
    except Exception as exc:
        body.update(status="unavailable", reason=f"database: {exc.__class__.__name__}: {exc}")
        return web.json_response(body, status=503)
    head = head_revision()
    body["schema"] = revision
    if revision != head:
        body.update(
            status="unavailable",
            reason=f"database schema {revision}, need {head}: run `threadline migrate`",
        )
        return web.json_response(body, status=503)
    body["status"] = "ready"
    return web.json_response(body)


def build_app(runtime: Runtime) -> web.Application:
    app = web.Application(client_max_size=256 * 1024)
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for part in runtime.parts():
        app.router.add_routes(part.routes())

    async def on_startup(_app: web.Application) -> None:
        await runtime.start()

    async def on_shutdown(_app: web.Application) -> None:
        # Close open sockets first: aiohttp waits for their handlers before cleanup.
        for part in runtime.parts():
            await part.shutdown()

    async def on_cleanup(_app: web.Application) -> None:
        await runtime.stop()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app
