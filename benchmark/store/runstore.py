"""The run store: the collection of run directories under one root (``--out``), and the key
that maps a run's spec to its directory (rundir.py describes one directory's files)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BenchError
from .rundir import RunDir
from .spec import RunSpec, TrainConfig

#: the file `bench export` leaves at a records folder's root
RECORDS_MARK = "RECORDS.md"


@dataclass(frozen=True)
class RunRecord:
    spec: RunSpec
    run: RunDir


class RunStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def holds_records(self) -> bool:
        """Whether this root is a `bench export` copy: finished runs without their weights,
        read by tables, never trained into (``export.RECORDS_MARK``)."""
        return (self.root / RECORDS_MARK).is_file()

    def ensure_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise BenchError(
                f"cannot write to --out {self.root}: {exc.strerror or exc}; "
                "give a writable directory"
            ) from None

    def run_dir(self, spec: RunSpec) -> RunDir:
        method_dir = spec.method.replace(":", "__")  # plugin paths: package.module:Class
        cls = "" if spec.cls is None else f"{_safe(spec.cls)}-"
        return RunDir(
            self.root / spec.suite / method_dir / f"seed{spec.seed}-{cls}{spec.config_hash()}"
        )

    def records(self, suite: str) -> Iterator[RunRecord]:
        """Every finished run of ``suite`` in the store."""
        base = self.root / suite
        if not base.is_dir():
            return
        for path in sorted(base.glob("*/seed*-*")):
            run = RunDir(path)
            if not run.finished:
                continue
            spec = spec_from_config(run.read_config(), path)
            run.check_key(spec, self.run_dir(spec).path)
            yield RunRecord(spec, run)


def _safe(name: str) -> str:
    """A class name as a path component (CIFAR's are plain words; guard anything else)."""
    return "".join(c if c.isalnum() or c in "._" else "_" for c in name)


def spec_from_config(cfg: dict[str, Any], path: Path | None = None) -> RunSpec:
    try:
        return RunSpec(**{**cfg, "train": TrainConfig(**cfg["train"])})
    except (TypeError, KeyError) as exc:
        raise BenchError(
            f"corrupted run directory {path}: config.json is not a run config ({exc}); "
            "move the directory aside"
        ) from None
