"""Running the coordinator service: uvicorn on a socket we bind (so port 0 works)."""

from __future__ import annotations

import json
import logging
import socket
import sys
from pathlib import Path

import uvicorn

from vanfed.errors import InputError
from vanfed.transport._inbox import Inbox
from vanfed.transport._server import BODY_DEADLINE_S, create_app

__all__ = ["serve"]


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if msg.startswith("{"):
            return msg
        return json.dumps({"level": record.levelname.lower(), "logger": record.name, "msg": msg})


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    for name in ("vanfed", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(logging.INFO)
        lg.propagate = False


def serve(
    inbox: Inbox,
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    body_deadline: float = BODY_DEADLINE_S,
    ready: Path | None = None,
) -> None:
    """Serve until interrupted. Prints (and writes to ``ready``) the URL once listening."""
    _configure_logging()
    if (tls_cert is None) != (tls_key is None):
        raise InputError("--tls-cert and --tls-key go together")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    bound = sock.getsockname()[1]
    scheme = "https" if tls_cert else "http"
    url = f"{scheme}://{host}:{bound}"
    config = uvicorn.Config(
        create_app(inbox, body_deadline=body_deadline),
        log_config=None,
        access_log=False,
        timeout_keep_alive=5,
        limit_concurrency=512,
        h11_max_incomplete_event_size=16 * 1024,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
    server = uvicorn.Server(config)
    print(f"vanfed serve: listening on {url}", flush=True)
    if ready is not None:
        ready.write_text(url + "\n")
    try:
        server.run(sockets=[sock])
    finally:
        inbox.close()
