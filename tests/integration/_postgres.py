"""A real PostgreSQL server from the Debian package, for the tests that read a database.

The cluster lives in a fresh folder, listens on 127.0.0.1 only (a free port) and on a socket
in that folder, trusts local connections, and is stopped and removed at the end. PostgreSQL
refuses to run as root, so as root the server runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner() -> tuple[list[str], int | None, int | None]:
    """The command prefix to run the server as a non-root user, with that user's ids."""
    if os.geteuid() != 0:
        return [], None, None
    runuser = shutil.which("runuser")
    try:
        import pwd

        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run the server as")
    if runuser is None:
        pytest.skip("running as root and runuser is missing: cannot start PostgreSQL")
    return [runuser, "-u", "postgres", "--"], entry.pw_uid, entry.pw_gid


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL; yields its SQLAlchemy URL (psycopg driver)."""
    bindir = _bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    prefix, uid, gid = _as_owner()
    home = Path(tempfile.mkdtemp(prefix="vanfed-pg-"))
    if uid is not None and gid is not None:
        os.chown(home, uid, gid)
    data, port = home / "data", _free_port()
    run = lambda *args: subprocess.run(  # noqa: E731
        [*prefix, *map(str, args)], check=True, capture_output=True, text=True, timeout=120
    )
    try:
        run(bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        opts = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", home / "log", "-w", "start")
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            run(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(home, ignore_errors=True)
