"""The imagefactory command line: validate, plan and migrate a configuration repository.

Run ``imagefactory --help``, or ``python -m shared.cli --help`` without the
console script.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from shared.cli import migrate, plan, validate
from shared.cli.common import EXIT_USAGE, UsageError

# The status of a command that SIGPIPE ended, as shells report it (128 + 13).
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagefactory",
        description="Check, plan and convert the configuration repository of the "
        "image factory.",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="log what the command does to stderr"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    validate.add_parser(commands)
    plan.add_parser(commands)
    migrate.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status (see each command's --help)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        # The Azure SDK logs every HTTP request at INFO.
        logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        status: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped early (``imagefactory validate | head``): stop quietly,
        # as a command killed by SIGPIPE would, and keep the exit flush from failing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except UsageError as exc:
        sys.stderr.write(f"imagefactory {args.command}: error: {exc}\n")
        return EXIT_USAGE
    except OSError as exc:
        sys.stderr.write(f"imagefactory {args.command}: error: {exc}\n")
        return EXIT_USAGE
    return status
