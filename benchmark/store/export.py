"""Copy finished runs into another run store without their weights: the record a table, a
compare or a report reads (config, metrics, evaluation curve, losses; the final samples and
snapshots unless left out), small enough to commit beside the tables it produced, so the
results outlive the machine that trained them and anyone can rebuild the tables with ``--out``
pointing at the copy. Without samples, the figures drawn from them are skipped
(``report/plots.can_draw``), and a metric added to the suite later cannot be evaluated on the
copy (``runs/reevaluate.py`` says so).

A copy is all-or-nothing per run (written under a temporary name, then renamed into place) and
never replaces a different record: a run already in the destination must hold the same files
byte for byte, or the export stops before writing anything.
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BenchError
from .atomic import atomic_write_text
from .runstore import RECORDS_MARK, RunRecord, RunStore

#: the files of a finished run that its tables, compare and report read (rundir.py describes each)
RECORD_FILES = (
    "config.json",
    "metrics.json",
    "evals.csv",
    "curves.csv",
    "partitions.csv",
    "runtime.json",
)
#: the final samples and the few snapshots the sample figures draw (10 MB per image run)
SAMPLE_FILES = ("snapshots.npz", "samples.npy")
#: what only resuming (checkpoint) and `bench critic` (generator snapshots) need
WEIGHT_FILES = ("checkpoint.pt", "generators")


RECORDS_TEXT = """# Exported run records

Finished runs copied by `bench export` without their weights: `bench table`, `bench compare` and
`bench report` read this folder with `--out`; `bench run` trains nothing into it (this file marks
it). Train in a run store, then export again.
"""


@dataclass(frozen=True)
class ExportSummary:
    copied: int
    already: int
    bytes_copied: int


def select_records(
    store: RunStore,
    suite: str,
    hashes: set[tuple[str, str]],
    seeds: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
) -> list[RunRecord]:
    """The finished runs of the configuration ``hashes`` (``planning.config_hashes``), of these
    seeds and classes (None: every one)."""
    return [
        rec
        for rec in store.records(suite)
        if (rec.spec.method, rec.spec.config_hash()) in hashes
        and (seeds is None or rec.spec.seed in seeds)
        and (classes is None or str(rec.spec.cls) in classes)
    ]


def _files(run: Path, samples: bool, weights: bool) -> list[Path]:
    """The run's files to copy, as paths relative to its directory."""
    names = RECORD_FILES + (SAMPLE_FILES if samples else ()) + (WEIGHT_FILES if weights else ())
    out = []
    for name in names:
        p = run / name
        if p.is_dir():
            out += sorted(q.relative_to(run) for q in p.iterdir() if q.is_file())
        elif p.is_file():
            out.append(Path(name))
    return out


def _check_readable(rec: RunRecord, files: Sequence[Path]) -> None:
    """Read every record file the way the tables will, so a damaged run is refused here, in the
    RunDir's one line naming the source, rather than copied and refused later."""
    run, names = rec.run, {str(f) for f in files}
    run.read_metrics()
    run.read_runtime()
    run.read_curves()
    run.read_evals()
    run.read_partitions()
    if "samples.npy" in names:
        run.read_samples()
    if "snapshots.npz" in names:
        run.read_snapshots()
    # config.json was read and its key checked by RunStore.records; the weights are CRC-checked
    # by whoever loads them (state_files.read_state)


def _differs(src: Path, dest: Path, files: Iterable[Path]) -> str | None:
    """Why ``dest`` is not a copy of ``src`` (None: it holds every file, identical)."""
    for rel in files:
        if not (dest / rel).is_file():
            return f"no {rel}"
        if not filecmp.cmp(src / rel, dest / rel, shallow=False):
            return f"another {rel}"
    return None


def export_runs(
    records: Sequence[RunRecord], dest: RunStore, samples: bool = True, weights: bool = False
) -> ExportSummary:
    """Copy ``records`` into ``dest`` (same layout, so ``dest`` is a run store). Reads every
    source file and checks every destination before copying anything, so a refused export
    leaves ``dest`` as it was."""
    if not records:
        raise BenchError("no finished runs of this configuration to export; run `bench run` first")
    dest.ensure_writable()
    todo, already = [], 0
    for rec in records:
        target = dest.run_dir(rec.spec).path
        files = _files(rec.run.path, samples, weights)
        _check_readable(rec, files)
        if target.resolve() == rec.run.path.resolve():
            raise BenchError(f"--to is the run store itself ({dest.root}); give another folder")
        if target.exists():
            why = _differs(rec.run.path, target, files)
            if why is not None:
                raise BenchError(
                    f"{target} already exists and differs from run {rec.run.path} ({why}); "
                    "nothing exported: a record is never replaced, export into another folder"
                )
            already += 1
            continue
        todo.append((rec.run.path, target, files))
    mark = dest.root / RECORDS_MARK
    if not mark.exists():
        atomic_write_text(mark, RECORDS_TEXT)
    copied = 0
    for src, target, files in todo:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
        try:
            for rel in files:
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / rel, tmp / rel)
                copied += (src / rel).stat().st_size
            tmp.rename(target)  # the whole run appears at once
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return ExportSummary(copied=len(todo), already=already, bytes_copied=copied)
