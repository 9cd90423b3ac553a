"""The ``bench`` console script: imports the CLI (torch and friends take seconds) inside a
guard, so a Ctrl-C pressed while Python is still importing is the same one line as later."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    try:
        from .main import main as cli_main
    except KeyboardInterrupt:
        print("bench: interrupted before anything ran", file=sys.stderr)
        return 130
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
