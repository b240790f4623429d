"""The command line of the notebook tool: ``python -m slmlab.notebooks COMMAND FILES...``."""

from __future__ import annotations

import argparse
import sys

from slmlab import notebooks


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m slmlab.notebooks", description=notebooks.__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    helps = {
        "strip": "clear outputs of unmarked cells and widget state, in place",
        "learner": "write learner copies with solution regions replaced",
        "check": "exit 1 listing problems (unstripped, missing checked output, bad markers)",
        "refresh": "execute in a fresh kernel with SLMLAB_FAST=1, then strip",
    }
    for command, text in helps.items():
        p = sub.add_parser(command, help=text, description=text)
        p.add_argument("files", nargs="+", metavar="FILES", help=".ipynb notebooks")
        if command == "learner":
            p.add_argument("--out", required=True, metavar="DIR", help="folder for the copies")
        if command == "refresh":
            p.add_argument("--timeout", type=float, default=600, help="seconds per cell")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 problems or failure)."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "strip":
            for path, saved in notebooks.strip(args.files).items():
                print(f"{path}: saved {saved:,} bytes ({path.stat().st_size:,} bytes now)")
        elif args.command == "learner":
            for path, regions in notebooks.learner(args.files, args.out).items():
                print(f"{path}: {regions} solution region(s) replaced")
        elif args.command == "check":
            problems = notebooks.check(args.files)
            print("\n".join(problems) or f"{len(args.files)} notebook(s) clean")
            if problems:
                print(f"{len(problems)} problem(s)", file=sys.stderr)
                return 1
        elif args.command == "refresh":
            for path in notebooks._paths(args.files):  # one at a time: each prints as it ends
                seconds = notebooks.refresh(path, timeout=args.timeout)[path]
                print(f"{path}: executed in {seconds:.1f} s, stripped", flush=True)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0

