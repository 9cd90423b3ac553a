"""The committed veegan tables carry the protocol's own why texts.

A why text names the measured reason a cell differs; it is written once, in the protocol
(benchmark/suites/protocol_veegan.py), and copied into each committed published.csv,
published.md and report when the table is made. Editing the text without remaking the committed
files would leave two versions of one fact; this fails when they part.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from collapsebench.benchmark.suites.protocol_veegan import VEEGAN

RESULTS = Path(__file__).resolve().parents[1] / "results"


@pytest.mark.parametrize("suite", ["gaussians25", "ring8"])
def test_committed_why_texts_are_the_protocols(suite: str):
    folder = RESULTS / suite / "veegan" / "default"
    table = pd.read_csv(folder / "published.csv", keep_default_na=False)
    texts = VEEGAN.differences[suite]
    shown = {(r["published row"], r["metric"]): r["why"] for _, r in table.iterrows()}
    assert set(texts) <= set(shown)  # every cell with a text is in the table
    for key, why in shown.items():
        assert why == texts.get(key, ""), key
    # the page's text as a browser shows it: tags dropped, entities and no-break spaces read back
    page = html.unescape(re.sub(r"<[^>]+>", "", (folder / "report.html").read_text()))
    page = page.replace("\xa0", " ")
    published_md, report_md = (
        (folder / "published.md").read_text(),
        (folder / "report.md").read_text(),
    )
    for text in texts.values():
        assert text in page
        assert text in published_md
        assert text in report_md
