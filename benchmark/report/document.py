"""`bench report`: one self-contained HTML file (and a Markdown twin) a researcher can send.

The report is assembled from what `bench table` writes (tables, captions, figures) plus what
only the run store knows: the protocol card, per-seed strip plots, the runtime and hardware of
every run, the runs that are missing or belong to another configuration, and the commands that
reproduce it. Images are embedded as PNG data URIs, so the HTML opens anywhere, offline.

The page carries a tiny script that, once loaded, writes onto ``<body>`` how many images the
browser decoded and how many tables it holds; the headless-Chromium test reads these back.
"""

from __future__ import annotations

import base64
import html
import re
import shlex
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..store.rundir import RunDir

#: figures of a results folder, in report order, with their headings
FIGURES = (
    ("samples.png", "Samples (last snapshot; toys: D's contours behind the samples)"),
    ("per_class.png", "Per class: each method's mean ± std over seeds, the real images' MS-SSIM"),
    ("seeds.png", "Per-seed values with bootstrap 95 % confidence intervals"),
    ("convergence.png", "Evaluation metrics over training (the convergence curves)"),
    ("modes_by_seed.png", "Modes covered over training, every run (collapse as it unfolds)"),
    ("curves.png", "Losses and gradient norms over training"),
    ("partitions.png", "Partitions over training"),
    ("curriculum.png", "Curriculum over training"),
    ("critic.png", "Independent Wasserstein critic over training"),
)
_CHECK_SCRIPT = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  document.body.dataset.images = imgs.length;
  document.body.dataset.imagesDecoded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.tables = document.querySelectorAll('table').length;
  // the layout a reader sees: nothing wider than the window, the answer on the first screen
  const root = document.documentElement;
  document.body.dataset.pageOverflow = Math.max(0, root.scrollWidth - root.clientWidth);
  document.body.dataset.wideBoxes = [...document.querySelectorAll('.box')]
    .filter(d => d.scrollWidth > d.clientWidth + 1).length;
  const top = e => e ? Math.round(e.getBoundingClientRect().top + window.scrollY) : 0;
  const card = [...document.querySelectorAll('h2')].find(h => h.textContent === 'Protocol card');
  document.body.dataset.firstTableTop = top(document.querySelector('table'));
  document.body.dataset.firstImageTop = top(document.images[0]);
  document.body.dataset.protocolTop = top(card);
});
</script>"""
_STYLE = """<style>
body{font-family:system-ui,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.78em}
th,td{border:1px solid #ccc;padding:.2em .35em;text-align:right}
th{font-weight:600;word-break:break-word}
td{white-space:normal;min-width:3.5em}
td.long{text-align:left;max-width:32em}
.box{max-width:100%;overflow-x:auto}
th:first-child,td:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee}
.caption{color:#555;font-size:.85em;max-width:1000px}
code,pre{background:#f5f5f5;padding:.1em .3em}
</style>"""


def _boxed(table: str) -> str:
    """A table in a box that scrolls sideways instead of widening the page."""
    return f'<div class="box">{table}</div>'


def _long_cells(table: str) -> str:
    """Cells of more than 40 characters (settings, sources) wrap instead of widening the table."""
    return re.sub(r"<td>([^<]{40,})</td>", lambda m: f'<td class="long">{m.group(1)}</td>', table)


def _cell(text: str) -> str:
    """A table cell; a long one (a reason, a source) wraps instead of widening the table, and
    "mean ± spread" may break only before its spread."""
    long = ' class="long"' if len(text) >= 40 else ""
    body = html.escape(text).replace(" ± ", "&nbsp;± ")
    return f"<td{long}>{body}</td>"


def md_table_to_html(md: str) -> tuple[str, str]:
    """A pipe table as written by ``render(..., "md", caption)`` -> (HTML table, caption)."""
    lines = md.strip().splitlines()
    rows = [ln for ln in lines if ln.startswith("|")]
    caption = " ".join(ln for ln in lines if ln.strip() and not ln.startswith("|"))
    cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
    body = [r for r in cells[1:] if not all(set(c) <= set(":-") for c in r)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0]) if cells else ""
    trs = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>", caption


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def runtime_table(per_seed: pd.DataFrame) -> pd.DataFrame:
    """One row per run (re)start from its runtime.json: device, threads, hardware, start."""
    rows = []
    for r in per_seed.itertuples(index=False):
        path = Path(r.run_dir)
        entries = RunDir(path).read_runtime() or [{}]
        finished = datetime.fromtimestamp((path / "metrics.json").stat().st_mtime, timezone.utc)
        for e in entries:
            rows.append(
                {
                    "run": f"{path.parent.name}/{path.name}",
                    "from step": e.get("start_step", ""),
                    "device": e.get("device", ""),
                    "threads": e.get("threads", ""),
                    "cpu": e.get("host_cpu", "not recorded"),
                    "gpu": e.get("gpu", ""),
                    "torch": e.get("torch", ""),
                    "started": e.get("started", ""),
                    "finished": finished.isoformat(timespec="seconds"),
                }
            )
    return pd.DataFrame(rows)


def protocol_card(suite, preset: str) -> pd.DataFrame:
    """Every setting that decides the numbers: the suite's parameters and the preset's budget."""
    params = {k: v for k, v in suite.params(preset).items() if k != "centers"}
    if getattr(suite, "centers", None):
        params["modes"] = suite.n_modes
    budget = {f"budget.{k}": v for k, v in asdict(suite.presets[preset]).items()}
    items = {**params, **budget}
    return pd.DataFrame({"setting": list(items), "value": [str(v) for v in items.values()]})


def method_settings(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Each method's parameters as its runs' config.json records them (optimiser included)."""
    rows = {}
    for method, run_dir in zip(per_seed["method"], per_seed["run_dir"], strict=True):
        if method not in rows:
            cfg = RunDir(Path(run_dir)).read_config()
            params = cfg.get("method_params", {})
            rows[method] = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return pd.DataFrame(
        {"method": list(rows), "parameters (from config.json)": list(rows.values())}
    )


class Report:
    """Sections in order; written as HTML (images embedded) and Markdown (images linked)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.html: list[str] = []
        self.md: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.html.append(f"<h{level}>{html.escape(text)}</h{level}>")
        self.md.append(f"{'#' * level} {text}\n")

    def text(self, text: str) -> None:
        self.html.append(f"<p>{html.escape(text)}</p>")
        self.md.append(f"{text}\n")

    def items(self, items: Sequence[str]) -> None:
        self.html.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
        self.md.append("\n".join(f"* {i}" for i in items) + "\n")

    def code(self, lines: Sequence[str]) -> None:
        self.html.append(f"<pre>{html.escape(chr(10).join(lines))}</pre>")
        self.md.append("```bash\n" + "\n".join(lines) + "\n```\n")

    def table_md(self, md: str) -> None:
        """A table as `bench table` wrote it (pipe table, then its caption)."""
        table, caption = md_table_to_html(md)
        self.html.append(_boxed(table) + f'<p class="caption">{html.escape(caption)}</p>')
        self.md.append(md.strip() + "\n")

    def frame(self, df: pd.DataFrame, caption: str = "") -> None:
        self.html.append(_boxed(_long_cells(df.to_html(index=False, escape=True, border=0))))
        self.md.append(df.to_markdown(index=False) + "\n")
        if caption:
            self.html.append(f'<p class="caption">{html.escape(caption)}</p>')
            self.md.append(caption + "\n")

    def figure(self, path: Path, alt: str) -> None:
        self.html.append(f'<img src="{_png(path)}" alt="{html.escape(alt)}">')
        self.md.append(f"![{alt}]({path.name})\n")

    def write(self, html_path: Path, md_path: Path) -> None:
        from ..store.atomic import atomic_write_text

        page = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title>{_STYLE}</head><body>"
            f"<h1>{html.escape(self.title)}</h1>{''.join(self.html)}{_CHECK_SCRIPT}</body></html>"
        )
        atomic_write_text(html_path, page)
        atomic_write_text(md_path, f"# {self.title}\n\n" + "\n".join(self.md))


def command_line(argv: Sequence[str]) -> str:
    return "bench " + " ".join(shlex.quote(a) for a in argv)


def missing_and_stale(store, suite_name: str, specs, current: set[str]) -> tuple[list, list]:
    """Planned runs that have not finished; finished runs of these methods whose configuration
    differs from the current one (older code defaults, other presets or protocols).
    ``current``: the report's runs, as paths relative to the store root."""
    missing = [s.label for s in specs if not store.run_dir(s).finished]
    methods = {s.method for s in specs}
    stale = []
    for rec in store.records(suite_name):
        rel = str(rec.run.path.relative_to(store.root))
        if rec.spec.method in methods and rel not in current:
            stale.append(rel)
    return missing, stale


def section_runs(rep: Report, per_seed: pd.DataFrame, missing: list, stale: list) -> None:
    rep.heading("Runs, runtime and hardware")
    rep.frame(runtime_table(per_seed), "One row per (re)start of each run, from its runtime.json.")
    if missing:
        rep.text(f"Missing: {len(missing)} planned runs have not finished (not in the tables):")
        rep.items(missing)
    else:
        rep.text("Missing: none; every planned run finished.")
    if stale:
        rep.text(
            f"Not in this report: {len(stale)} finished run{'s' * (len(stale) != 1)} of these "
            "methods under another "
            "configuration (another preset, protocol, option or older defaults):"
        )
        rep.items(stale)
