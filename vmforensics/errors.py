"""The application's exception taxonomy and the exit status each maps to.

Every command: 0 success, 1 internal error, 2 usage error, 3 an input could not be
opened or reached, 4 verification failed (DESIGN.md). Commands raise these with a
message meant for the user; ``cli.main`` prints it (never a traceback) and exits.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_VERIFY = 4


class VmfError(Exception):
    exit_code = EXIT_INTERNAL


class UsageError(VmfError):
    exit_code = EXIT_USAGE


class InputError(VmfError):
    """An input (file, folder, device, key, password) could not be opened or reached."""

    exit_code = EXIT_INPUT


class VerificationFailed(VmfError):
    exit_code = EXIT_VERIFY
