"""The `cspolicy` command. Each subcommand lives in its own `cmd_*.py` module with a `register`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from cspolicy import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand module registered, in name order."""
    parser = argparse.ArgumentParser(
        prog="cspolicy",
        description="Child support enforcement policy as declarative YAML: validate, evaluate, explain.",
    )
    parser.add_argument("--version", action="version", version=f"cspolicy {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{module.name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 problems found, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
