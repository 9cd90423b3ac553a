"""`bench report`: the Markdown twin's content, and the HTML rendered by headless Chromium."""

import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.report.document import FIGURES

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    store, results = root / "runs", root / "results"
    base = ["--suite", "gaussians25", "--preset", "smoke", "--out", str(store), "--no-progress"]
    assert (
        main(
            [
                "run",
                *base,
                "--methods",
                "gan",
                "wgan-gp",
                "--seeds",
                "0",
                "1",
                "--results",
                str(results),
            ]
        )
        == 0
    )
    # a finished run of another configuration: the report must list it, not use it
    assert (
        main(
            [
                "run",
                *base,
                "--methods",
                "gan",
                "--seeds",
                "0",
                "--set",
                "lr=0.002",
                "--results",
                str(results),
            ]
        )
        == 0
    )
    argv = [
        "report",
        "--suite",
        "gaussians25",
        "--preset",
        "smoke",
        "--out",
        str(store),
        "--results",
        str(results),
        "--methods",
        "gan",
        "wgan-gp",
        "--seeds",
        "0",
        "1",
        "2",
        "--compare",
        "wgan-gp",
    ]
    assert main(argv) == 0
    return results / "gaussians25" / "dyngan" / "smoke"


def test_markdown_twin_lists_tables_figures_runs_and_commands(report):
    md = (report / "report.md").read_text()
    assert "## Protocol card" in md and "HelloSeeing/DynGAN" in md
    assert "| gan " in md and "| wgan-gp " in md  # the main table's rows
    for fig in ("samples.png", "seeds.png", "convergence.png", "curves.png"):
        assert f"]({fig})" in md and (report / fig).exists()
    # seeds 0 1 2 were planned and 0 1 ran: the two seed-2 runs are listed as missing
    assert "Missing: 2 planned runs" in md
    assert "gaussians25/gan/seed2" in md and "gaussians25/wgan-gp/seed2" in md
    # the lr=0.002 run is another configuration: listed as not in this report
    assert "Not in this report: 1 finished run of these methods" in md
    assert "bench run --suite gaussians25 --preset smoke --methods gan wgan-gp" in md
    assert "wgan-gp against the other methods" in md
    # the first screen is the answer: tables and samples before the protocol card
    assert md.index("## Tables") < md.index("](samples.png)") < md.index("## Protocol card")
    # no path of the machine that made it: the absolute store is named RUNS in the commands
    assert str(report.parents[3]) not in md and "--out RUNS" in md


def _browser():
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip(
        "headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)"
    )


def test_html_renders_in_headless_chromium(report, tmp_path):
    browser = _browser()
    page = report / "report.html"
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "")  # nothing fetched to view it
    flags = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
    ]
    dom = subprocess.run(
        [*flags, "--window-size=1280,1600", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    attrs = dict(re.findall(r'data-([a-z-]+)="(\d+)"', body))
    n_img, n_table = text.count("<img "), text.count("<table")
    figures = [n for n, _ in FIGURES if (report / n).exists()]
    assert n_img == len(figures) >= 4 and n_table >= 4
    layout = {
        k: int(attrs.pop(k)) for k in list(attrs) if k not in ("images", "images-decoded", "tables")
    }
    assert attrs == {"images": str(n_img), "images-decoded": str(n_img), "tables": str(n_table)}
    # at 1,280 px nothing runs off the page: not the page, and no table needs sideways scrolling
    assert layout["page-overflow"] == 0 and layout["wide-boxes"] == 0, layout
    # the first screen (1,600 px) is the answer: the headline table and the samples figure,
    # both above the protocol card
    assert 0 < layout["first-table-top"] < 1600 and 0 < layout["first-image-top"] < 1600, layout
    assert layout["first-image-top"] < layout["protocol-top"], layout
    shot = tmp_path / "first-screen.png"
    subprocess.run(
        [*flags, "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=180,
        check=True,
    )
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (1600, 1280)
    # rendered, not blank: dark text and lines on a light page
    assert pixels.std() > 10 and (pixels < 100).mean() > 0.005
