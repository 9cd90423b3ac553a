"""The reference file of the CI gate (bench check): its columns, validation, reading, writing,
and updating it from runs while keeping hand-set tolerances."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..store.atomic import atomic_write_text
from ..store.csv_shape import ragged_line
from .stats import describe

REQUIRED_COLUMNS = ("method", "metric", "mean", "std", "n")
#: the most seeds a reference row may count
MAX_SEEDS = 1_000_000


OPTIONAL_COLUMNS = ("abs_tol", "rel_tol")


def _number(v: object) -> float:
    """One CSV cell as float; empty cell -> NaN; anything else non-numeric -> ValueError."""
    if isinstance(v, str):
        v = v.strip()
        if v == "":
            return math.nan
        if v.lower() in ("nan", "+nan", "-nan"):
            raise ValueError(v)  # in a file, "none" is an empty cell; a spelt-out NaN is junk
    if isinstance(v, bool):
        raise ValueError(v)
    return float(v)  # raises ValueError / TypeError on junk


def validate_reference(
    df: pd.DataFrame, source: str = "reference", from_file: bool = False
) -> pd.DataFrame:
    """Check a reference table and return it normalized (dtypes, both tolerance columns).

    Accepts the raw strings of a CSV as well as a numeric DataFrame; ``from_file`` makes
    messages name file lines (header = line 1) instead of 1-based data rows.
    """

    def where(i: int) -> str:
        return f"{source} line {i + 2}" if from_file else f"{source} row {i + 1}"

    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}")
    cols = [str(c).strip() for c in df.columns]
    df = df.set_axis(cols, axis=1)
    expected = ",".join(REQUIRED_COLUMNS) + "[,abs_tol][,rel_tol]"
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise ValueError(f"{source} lacks column(s) {missing}; expected columns {expected}")
    unknown = [c for c in cols if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise ValueError(f"{source} has unknown column(s) {unknown}; expected columns {expected}")
    if len(set(cols)) != len(cols):
        raise ValueError(f"{source} repeats a column name; expected columns {expected}")
    if df.empty:
        raise ValueError(f"{source} has no rows; expected one row per (method, metric)")

    out = pd.DataFrame(index=range(len(df)))
    for name in ("method", "metric"):
        col = df[name].reset_index(drop=True)
        bad = col.isna() | (col.astype(str).str.strip() == "")
        if bad.any():
            raise ValueError(f"{where(int(bad.idxmax()))}: empty {name!r}; every row needs one")
        out[name] = col.astype(str).str.strip()
    for name in ("mean", "std", "n") + OPTIONAL_COLUMNS:
        values = df[name].tolist() if name in cols else [math.nan] * len(df)
        parsed = []
        for i, v in enumerate(values):
            try:
                x = _number(v)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{where(i)}: column {name!r} holds {v!r}, which is not a number"
                ) from None
            if math.isinf(x):
                raise ValueError(f"{where(i)}: column {name!r} is infinite; use finite")
            if name == "mean" and math.isnan(x):
                raise ValueError(f"{where(i)}: 'mean' is empty; every row needs a mean")
            # a seed count is small: 1e300 "seeds" would wrap around as an int64
            if name == "n" and not (1 <= x <= MAX_SEEDS and float(x).is_integer()):
                raise ValueError(
                    f"{where(i)}: 'n' is {v!r}; it must be a whole number of seeds from 1 to "
                    f"{MAX_SEEDS:,}"
                )
            if name in ("std",) + OPTIONAL_COLUMNS and x < 0:
                raise ValueError(f"{where(i)}: {name!r} is {x:g}; it must be >= 0")
            parsed.append(x)
        out[name] = np.array(parsed, dtype=float)
    out["n"] = out["n"].astype(int)
    dup = out.duplicated(subset=["method", "metric"])
    if dup.any():
        m, k = out.loc[dup, ["method", "metric"]].iloc[0]
        raise ValueError(
            f"{source} has duplicate rows for ({m}, {k}); one row per (method, metric)"
        )
    return out[list(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)]


def read_reference(path: str | Path) -> pd.DataFrame:
    """Read and validate a reference CSV; any problem is one ValueError line naming the file."""
    path = Path(path)
    expected = ",".join(REQUIRED_COLUMNS) + "[,abs_tol][,rel_tol]"
    if not path.is_file():
        raise ValueError(
            f"reference file {path} does not exist; create it with `bench check ... --update`"
        )
    try:
        text = path.read_text(encoding="utf-8")
        ragged = ragged_line(text)
        raw = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
        )
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"reference file {path} is empty; expected a header {expected} and one row per "
            "(method, metric)"
        ) from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, csv.Error) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"reference file {path} is not valid CSV ({first})") from None
    if ragged:
        raise ValueError(
            f"reference file {path} {ragged}; give every row one field per column (an empty "
            "cell for none)"
        )
    return validate_reference(raw, source=f"reference file {path}", from_file=True)


def write_reference(path: str | Path, df: pd.DataFrame) -> Path:
    """Validate and write a reference CSV atomically; tolerance columns only if used."""
    ref = validate_reference(df, source="reference table to write")
    ref = ref.sort_values(["method", "metric"], kind="stable").reset_index(drop=True)
    for c in OPTIONAL_COLUMNS:
        if ref[c].isna().all():
            ref = ref.drop(columns=c)
    return atomic_write_text(path, ref.to_csv(index=False, na_rep=""))


def reference_from_runs(
    df_long: pd.DataFrame, metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Reference table (mean, std, n per method and metric) from the per-seed results."""
    ref = describe(df_long, metrics)
    empty = ref[ref["n"] == 0]
    if len(empty):
        m, k = empty.iloc[0][["method", "metric"]]
        raise ValueError(
            f"runs of {m!r} have no values for metric {k!r}; cannot build its reference row"
        )
    return validate_reference(ref, source="reference built from runs")


def keep_tolerances(new_ref: pd.DataFrame, old_ref: pd.DataFrame | None) -> pd.DataFrame:
    """``new_ref`` with the hand-set abs_tol/rel_tol of matching rows of ``old_ref`` (--update)."""
    new = validate_reference(new_ref, source="new reference")
    if old_ref is None:
        return new
    old = validate_reference(old_ref, source="old reference").set_index(["method", "metric"])
    keys = pd.MultiIndex.from_frame(new[["method", "metric"]])
    for c in OPTIONAL_COLUMNS:
        new[c] = old[c].reindex(keys).to_numpy()
    return new


def update_reference(
    path: str | Path, df_long: pd.DataFrame, metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """``--update``: rebuild the reference at ``path`` from runs, keeping per-row tolerances."""
    path = Path(path)
    old = read_reference(path) if path.exists() else None
    ref = keep_tolerances(reference_from_runs(df_long, metrics), old)
    write_reference(path, ref)
    return ref
