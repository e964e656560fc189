"""Protection options of ``vanfed summarize``: settings from flags, the local report."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from vanfed._json import atomic_write
from vanfed.anonymize import (
    LossModel,
    Protected,
    ProtectionSettings,
    protection_report,
    render_protection_report,
)
from vanfed.cli._common import console, out
from vanfed.errors import InputError
from vanfed.schema import ProtectionPolicy, load_protection_policy


def protection_settings(
    k: int,
    s: int | None,
    protect_zeros: bool,
    policy: Path | None,
    method: str,
    time_limit: float,
    loss: str,
) -> ProtectionSettings:
    """Settings from the command line's flags (a bad value is an InputError naming it)."""
    pol = ProtectionPolicy() if policy is None else load_protection_policy(policy)
    try:
        return ProtectionSettings(
            k=k,
            s=s,
            protect_zeros=protect_zeros,
            policy=pol,
            method=method,  # validated by the model
            time_limit=time_limit,
            loss=LossModel(kind=loss),
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][-1] if err["loc"] else "option")
        where = "--" + name.replace("_", "-")
        raise InputError(f"{where}: {name} = {err.get('input')!s:.40}: {err['msg']}") from exc


def write_protection_report(protected: Protected, path: Path, *, as_json: bool = False) -> None:
    """The report as JSON at ``path`` and as a readable table at ``path`` + ``.txt`` (the
    notice goes to stderr with ``as_json``: stdout then holds only the JSON)."""
    report = protection_report(protected)
    data = json.dumps(report.to_json_obj(), indent=1, ensure_ascii=False) + "\n"
    atomic_write(path, data.encode(), mode=0o600)  # true counts: owner only
    text = path.with_name(path.name + ".txt")
    atomic_write(text, render_protection_report(report).encode(), mode=0o600)
    gap = "" if report.gap is None else f", optimality gap {100 * report.gap:.2f} %"
    (console if as_json else out).print(
        f"protection report ({report.method}{gap}; local, do not send) -> {path}, {text}",
        markup=False,
    )
