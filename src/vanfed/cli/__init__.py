"""The ``vanfed`` command line: one module per command group, no logic of its own."""

from __future__ import annotations

import sys

import click
import typer

from vanfed._version import __version__
from vanfed.cli import (
    _audit_cmd,
    _codebook,
    _demo,
    _keys,
    _ledger,
    _mapping,
    _merge,
    _node_cmds,
    _plan,
    _registry,
    _round,
    _schema,
    _transport_cmds,
)
from vanfed.cli._common import console
from vanfed.errors import VanfedError

__all__ = ["app", "main"]

# typer >= 0.16 carries its own copy of click; catch both families.
_EXIT = (click.exceptions.Exit, typer.Exit)
_ABORT = (click.exceptions.Abort, typer.Abort)
_USAGE: tuple[type[Exception], ...] = (
    click.ClickException,
    getattr(typer, "TyperException", click.ClickException),
)

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Privacy-preserving federated statistics for mine-action victim assistance.",
)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", is_eager=True, help="Print vanfed's version and exit"
    ),
) -> None:
    """Privacy-preserving federated statistics for mine-action victim assistance."""
    if version:
        sys.stdout.write(f"vanfed {__version__}\n")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        sys.stdout.write(ctx.get_help() + "\n")


for module in (
    _demo,
    _keys,
    _node_cmds,
    _plan,
    _transport_cmds,
    _round,
    _merge,
    _audit_cmd,
    _schema,
    _codebook,
):
    module.register(app)
app.add_typer(_registry.app, name="registry")
app.add_typer(_mapping.app, name="mapping")
app.add_typer(_ledger.app, name="ledger")


def main(argv: list[str] | None = None) -> None:
    """Entry point: every VanfedError becomes one line on stderr and its exit code."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="vanfed", standalone_mode=False)
    except VanfedError as exc:
        console.print(f"vanfed: error: {exc}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except _EXIT as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except _ABORT:
        console.print("vanfed: aborted", markup=False)
        sys.exit(2)
    except _USAGE as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        console.print(f"vanfed: error: {message}", markup=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
