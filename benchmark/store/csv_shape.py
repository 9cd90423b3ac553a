"""The one check pandas does not make on a CSV it reads: every line as many fields as the header.

When the first data line has one field more than the header, ``pandas.read_csv`` silently makes
the first column an index and shifts every value one column left (a ``step`` column would then
hold the next column's numbers); a short line is padded with NaN. So every CSV this project
reads back is checked here first.
"""

from __future__ import annotations

import csv
from pathlib import Path


def ragged_line(path: Path) -> str | None:
    """None if every non-blank line of ``path`` has the header's field count, else one phrase
    naming the first line that does not ("line 3 has 4 fields, its header 5").

    Raises OSError, UnicodeDecodeError or csv.Error for a file that cannot be read as CSV.
    """
    with Path(path).open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        width = None
        for row in reader:
            if not row:
                continue  # a blank line, which pandas skips too
            if width is None:
                width = len(row)
            elif len(row) != width:
                return f"line {reader.line_num} has {len(row)} fields, its header {width}"
    return None
