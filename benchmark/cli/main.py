"""`bench`: every command. Every user error is one line on stderr, exit 2."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..errors import BenchError
from .args import _use_dinov2
from .parser import build_parser
from .stats_cmd import cmd_check, cmd_compare, cmd_report
from .tables_cmd import cmd_agreement, cmd_evaluate, cmd_export, cmd_table
from .train_cmd import cmd_critic, cmd_data, cmd_list, cmd_perf, cmd_run, cmd_variants

COMMANDS = {
    "list": cmd_list,
    "run": cmd_run,
    "table": cmd_table,
    "export": cmd_export,
    "variants": cmd_variants,
    "evaluate": cmd_evaluate,
    "compare": cmd_compare,
    "check": cmd_check,
    "critic": cmd_critic,
    "report": cmd_report,
    "agreement": cmd_agreement,
    "data": cmd_data,
    "perf": cmd_perf,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "dinov2_weights"):
            with _use_dinov2(args):
                return COMMANDS[args.command](args)
        return COMMANDS[args.command](args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the machine, not the input: a full disk, a vanished folder
        where = f" {exc.filename}" if exc.filename else ""
        print(f"bench: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
