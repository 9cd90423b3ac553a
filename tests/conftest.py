import pytest
import torch

from collapsebench.benchmark.cli.main import main


@pytest.fixture(autouse=True)
def _one_thread():
    """Bit-identical CPU results need the same thread count on both sides of a comparison."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory):
    """One finished smoke-preset run store shared by the CLI tests (two methods, seeds 0 and 1)."""
    root = tmp_path_factory.mktemp("smoke")
    out, results = root / "runs", root / "results"
    rc = main(
        [
            "run",
            "--suite",
            "gaussians25",
            "--preset",
            "smoke",
            "--methods",
            "gan",
            "wgan-gp",
            "--seeds",
            "0",
            "1",
            "--out",
            str(out),
            "--results",
            str(results),
            "--no-progress",
        ]
    )
    assert rc == 0
    return out, results
