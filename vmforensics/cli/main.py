"""Entry point: finds the command modules, parses argv, maps errors to exit codes.

Each ``vmforensics/cli/cmd_<name>.py`` module defines ``NAME``, ``HELP``,
``configure(parser)`` and ``run(args) -> int``; adding a command is adding a module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from types import ModuleType

from vmforensics import __version__
from vmforensics.errors import EXIT_INTERNAL, EXIT_USAGE, VmfError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def command_modules() -> list[ModuleType]:
    import vmforensics.cli as pkg

    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("cmd_"))
    return [importlib.import_module(f"vmforensics.cli.{n}") for n in names]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vmforensics", description="Find leaked voicemail and prove it.")
    parser.add_argument("--version", action="version", version=f"vmforensics {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    if not argv:
        if sys.stdin.isatty() and sys.stdout.isatty() and "tui" in _names(parser):
            argv = ["tui"]
        else:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except VmfError as exc:
        print(f"vmforensics: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vmforensics: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last line of defence: no traceback reaches the user
        if os.environ.get("VMF_DEBUG"):
            raise
        print(
            f"vmforensics: internal error: {type(exc).__name__}: {exc} "
            "(set VMF_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _names(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()
