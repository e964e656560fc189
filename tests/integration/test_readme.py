"""The README's coordinator bootstrap and its Python example run as written.

The bootstrap block (keys, registry v1..v5) runs in bash with ``vanfed`` as this checkout's
CLI; a real ``vanfed serve`` then starts on 127.0.0.1 from the keys and registry it made, and
the Python example goes from a synthetic export through signing to a verified receipt.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from vanfed.synthetic import write_export

README = Path(__file__).parents[2] / "README.md"


def _block(after: str, lang: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(after)
    match = re.compile(rf"```{lang}\n(.*?)```", re.S).search(text, start)
    assert match is not None
    return match.group(1)


def _serve(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    ready = tmp / "ready"
    args = [
        "--inbox",
        "inbox",
        "--registry",
        "registry.dsse.json",
        "--key",
        "keys/coordinator",
        "--log-key",
        "keys/log",
        "--encryption-key",
        "keys/encryption",
        "--port",
        "0",
        "--ready-file",
        str(ready),
    ]
    with (tmp / "serve.log").open("wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "vanfed", "serve", *args],
            cwd=tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 60
    while not (ready.exists() and ready.read_text().endswith("\n")):
        assert proc.poll() is None, (tmp / "serve.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "vanfed serve did not start"
        time.sleep(0.1)
    return proc, ready.read_text().strip()


def _run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_bootstrap_then_the_python_example_through_sending(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    script = f'vanfed() {{ "{sys.executable}" -m vanfed "$@"; }}\nset -euo pipefail\n'
    script += _block("<!-- bootstrap", "sh")
    passphrase = re.search(r"export VANFED_PASSPHRASE=(\S+)", script)
    assert passphrase is not None
    env["VANFED_PASSPHRASE"] = passphrase.group(1)
    # The Lao node makes its key (README step 4) and sends the public half to ARMAC.
    keygen = ["keygen", "--role", "node", "--country", "LAO", "--out", "keys/lao-node"]
    node = _run([sys.executable, "-m", "vanfed", *keygen], tmp_path, env, timeout=300)
    assert node.returncode == 0, node.stderr
    (tmp_path / "lao-node.pub").write_bytes((tmp_path / "keys" / "lao-node.pub").read_bytes())
    boot = _run(["bash", "-c", script], tmp_path, env)
    assert boot.returncode == 0, boot.stderr[-3000:]
    assert "registry v5 valid until" in boot.stdout
    ex = write_export("LAO", tmp_path / "exports", seed=3)
    example = _block("The same in Python", "python")
    example = example.replace('"casualties.xlsx"', repr(str(ex.path)))
    example = example.replace('"mapping.toml"', repr(str(ex.mapping_path)))
    proc, url = _serve(tmp_path, env)
    try:
        run = _run(
            [sys.executable, "-c", example.replace("https://armac.example", url)], tmp_path, env
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("delivered "), run.stdout
    assert len(list((tmp_path / "inbox").glob("*.dsse.json"))) == 1
