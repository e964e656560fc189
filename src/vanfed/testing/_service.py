"""A real ``vanfed serve`` process on 127.0.0.1 for tests (start, kill -9, restart), and the
CLI run in a subprocess with the test passphrase and a pinned trust root."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from vanfed._json import atomic_write
from vanfed.signing import pin_trust_root, save_keypair, verify_registry
from vanfed.testing._trust import NOW, Trust, pin

__all__ = ["PASSPHRASE", "Service", "cli_env", "run_cli"]

PASSPHRASE = "test-passphrase"


def cli_env(trust_root: Path | None = None) -> dict[str, str]:
    """The environment of a CLI subprocess: the test passphrase, and a trust root (the given
    one, else ``$VANFED_TRUST_ROOT``, pinned to the test registry if nothing is pinned there)."""
    if trust_root is None:
        _pinned_default()
    extra = {"VANFED_TRUST_ROOT": str(trust_root)} if trust_root else {}
    return {**os.environ, "VANFED_PASSPHRASE": PASSPHRASE, "PYTHONUNBUFFERED": "1", **extra}


def _pinned_default() -> None:
    """Tests that have not pinned a trust root trust the test registry's roots (Trust)."""
    path = Path(os.environ.get("VANFED_TRUST_ROOT", ""))
    if path.name and not path.exists():
        pin(Trust().registry_bytes)


def run_cli(*args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    """``vanfed ARGS…`` in a subprocess of this interpreter (text output, no stdin)."""
    return subprocess.run(
        [sys.executable, "-m", "vanfed", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        **kw,
    )


class Service:
    """Keys and registry on disk under ``root``, and the service process around an inbox
    folder (``root/inbox``); ``start()`` returns its URL once it listens."""

    def __init__(
        self,
        root: Path,
        trust: Trust,
        *,
        body_deadline: float = 30.0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.tls = tls
        self.root = root
        self.trust = trust
        self.inbox = root / "inbox"
        self.keys = root / "keys"
        for name, key in (
            ("coordinator", trust.coordinator),
            ("log", trust.log),
            ("encryption", trust.encryption),
        ):
            save_keypair(key, self.keys / name, PASSPHRASE.encode())
        self.registry = atomic_write(root / "registry.dsse.json", trust.registry_bytes)
        # The service's own anchor: it may be started before a test pins its own.
        self.trust_root = atomic_write(
            root / "trust-root.json",
            pin_trust_root(verify_registry(trust.registry_bytes, now=NOW)).canonical_bytes(),
        )
        self.body_deadline = body_deadline
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.restarts = 0

    def start(self, timeout: float = 120.0) -> str:
        """Start the service (on the port of its last life, if any); returns its URL.

        Raises:
            RuntimeError: the process exited before it was ready.
            TimeoutError: it was not ready within ``timeout`` seconds.
        """
        ready = self.root / "ready"
        ready.unlink(missing_ok=True)
        with (self.root / f"serve-{self.restarts}.log").open("wb") as log:
            self.restarts += 1
            proc = self.proc = self._spawn(ready, log)
        deadline = time.monotonic() + timeout
        while not ready.exists() or not ready.read_text().endswith("\n"):
            if proc.poll() is not None:
                raise RuntimeError(f"vanfed serve exited: {self.logs()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("vanfed serve did not start")
            time.sleep(0.05)
        self.url = ready.read_text().strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        return self.url

    def __enter__(self) -> Service:
        """Start the service (see :meth:`start`); leaving the block stops it."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, ready: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
        tls = ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])] if self.tls else []
        return subprocess.Popen(
            [
                *(sys.executable, "-m", "vanfed", "serve"),
                *("--inbox", str(self.inbox), "--registry", str(self.registry)),
                *("--key", str(self.keys / "coordinator"), "--log-key", str(self.keys / "log")),
                *("--encryption-key", str(self.keys / "encryption")),
                *("--port", str(self.port), "--ready-file", str(ready)),
                *("--body-deadline", str(self.body_deadline)),
                *tls,
            ],
            env=cli_env(self.trust_root),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """``kill -9`` the process (a crash), if it runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop the process cleanly (SIGTERM), killing it after 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        """The output of every life of the process, oldest first."""
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.root.glob("serve-*.log"))
        )
