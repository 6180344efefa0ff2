"""The uvicorn server that serves the console and web chat (started by `webcare run`)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from webcare.console.config import ConsoleConfig


def build_server(app: FastAPI, config: ConsoleConfig) -> uvicorn.Server:
    """A uvicorn Server for the app on the configured host and port; `await server.serve()` runs it."""
    return uvicorn.Server(
        uvicorn.Config(app, host=config.host, port=config.port, log_level="warning", access_log=False,
                       timeout_graceful_shutdown=3, proxy_headers=False)
    )
