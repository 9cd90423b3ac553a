"""The one check pandas does not make on a CSV it reads: every line as many fields as the header.

When the first data line has one field more than the header, ``pandas.read_csv`` silently makes
the first column an index and shifts every value one column left (a ``step`` column would then
hold the next column's numbers); a short line is padded with NaN. So every CSV this project
reads back is checked here first, on the text the reader then hands to pandas.
"""

from __future__ import annotations

import csv
import io


def ragged_line(text: str) -> str | None:
    """None if every non-blank line of the CSV ``text`` has the header's field count, else one
    phrase naming the first line that does not ("line 3 has 4 fields, its header 5").
    The caller reads the file once and hands the same text to pandas.

    Raises csv.Error for text that cannot be read as CSV.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    width = None
    for row in reader:
        if not row:
            continue  # a blank line, which pandas skips too
        if width is None:
            width = len(row)
        elif len(row) != width:
            return f"line {reader.line_num} has {len(row)} fields, its header {width}"
    return None
