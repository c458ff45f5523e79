"""The `aiayn` command line: train, eval, generate, translate, summarize, classify, attention,
report, serve, export, average, ablate.

Every user error ends with one line, `aiayn: error: ...`, and exit code 2, never a traceback.
This package is the only one that prints: `parser` reads the arguments, `commands` calls the
applications (aiayn.app) and prints their answers, `launcher` starts `--nproc` processes.
"""

from __future__ import annotations

import logging
import os
import sys

from aiayn.errors import AiaynError

EXIT_USAGE = 2


def _report_error(message: str) -> None:
    """Print the one-line error. Under torchrun a worker also records it for the agent, and only
    rank 0 prints; a worker started by `--nproc` leaves the printing to its launcher."""
    if "TORCHELASTIC_ERROR_FILE" in os.environ:
        from aiayn.cli.launcher import LAUNCHED_ENV, hand_error_to_launcher

        hand_error_to_launcher(message)
        if os.environ.get(LAUNCHED_ENV) or int(os.environ.get("RANK", "0")) != 0:
            return
    print(f"aiayn: error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run `aiayn ARGV` (default: this process's arguments) and return its exit code. Started as
    a program (no `argv`), it first restarts itself under a faster allocator where one is
    installed (aiayn.cli.allocator)."""
    if argv is None:
        from aiayn.cli.allocator import restart_with_fast_allocator

        try:
            restart_with_fast_allocator(sys.argv[1:])
        except OSError as e:  # the restart failed before replacing us: go on as we are
            logging.getLogger(__name__).warning("could not restart with a faster allocator: %s", e)
    try:
        from aiayn.cli.parser import build_parser

        parser = build_parser()
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(asctime)s %(name)s: %(message)s",
        )
        return args.func(args)
    except (AiaynError, ValueError, FileNotFoundError, PermissionError) as e:
        _report_error(str(e))
        return getattr(e, "exit_code", EXIT_USAGE)  # a failed --nproc worker's own code
    except KeyboardInterrupt:
        if not os.environ.get("AIAYN_LAUNCHED"):  # a --nproc worker: its launcher reports
            print(
                "aiayn: interrupted; resume with `aiayn train TASK --out DIR --resume`",
                file=sys.stderr,
            )
        return 130
    except SystemExit as e:  # --help
        return int(e.code or 0)


__all__ = ["EXIT_USAGE", "main"]
