"""The real Threadline web process, as ``threadline serve`` builds it, for the reply-path
benchmark: ``build_runtime`` (embedded worker, offline responder) + ``add_webchat`` +
``build_app``, on 127.0.0.1 at a free port.

Reads its settings from the environment like the product (``DATABASE_URL``,
``THREADLINE_SECRET``…). Prints ``listening <port>`` when ready; on SIGTERM it shuts
down cleanly and prints one JSON line with the inbound events it left pending.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_app
from bot.bootstrap import add_webchat, build_runtime
from bot.settings import Settings
from bot.warm_start import warm_start
from memory.queues import pending_event_count


async def serve() -> None:
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr)
    runtime = build_runtime(settings)
    add_webchat(runtime)
    app = build_app(runtime)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await warm_start(runtime)  # as `threadline serve` does once started
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print(f"listening {runner.addresses[0][1]}", flush=True)
    await stop.wait()
    pending = await pending_event_count(runtime.session_factory)
    await runner.cleanup()
    print(json.dumps({"pending_events": pending}), flush=True)


if __name__ == "__main__":
    asyncio.run(serve())
