"""``python -m slmlab.zoo list`` / ``python -m slmlab.zoo build NAME|all [--out DIR] [--quick]``."""

from __future__ import annotations

import argparse
import json

from . import build, info, names
from .recipes import RECIPES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m slmlab.zoo")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the shipped models and their metrics")
    b = sub.add_parser("build", help="retrain a model from its recipe")
    b.add_argument("name", choices=[*RECIPES, "all"])
    b.add_argument("--out", help="write here instead of into the package")
    b.add_argument("--quick", action="store_true", help="3 steps on tiny data (a smoke test)")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name in names():
            entry = info(name)
            print(f"{name:<18} {entry['params']:>10,} params  {json.dumps(entry['metrics'])}")
        return 0
    for name in RECIPES if args.name == "all" else [args.name]:
        entry = build(name, out_dir=args.out, quick=args.quick)
        print(f"{name}: {entry['params']:,} params, {entry['build_seconds']} s, "
              f"metrics {json.dumps(entry['metrics'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
