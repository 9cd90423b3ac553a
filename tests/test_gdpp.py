"""GDPP's DPP loss on hand-built feature sets (eigenvalues worked by hand), against the B x B
eigendecomposition the paper writes, and one training step through the loop."""

from __future__ import annotations

import math

import pytest
import torch

from collapsebench.baselines.gdpp import dpp_loss, kernel_eig, real_kernel_eig


def _rows(*unit_axes: int, dim: int = 2) -> torch.Tensor:
    """(1, B, dim) features, row b the unit vector along ``unit_axes[b]`` (scaled by b + 1, which
    the row normalisation removes)."""
    phi = torch.zeros(1, len(unit_axes), dim, dtype=torch.float64)
    for b, a in enumerate(unit_axes):
        phi[0, b, a] = b + 1.0
    return phi


def test_identical_batches_cost_minus_the_normalised_spectrum_up_to_the_solvers_signs():
    """Rows e1, e1, e1, e2: the kernel is a 3 x 3 block of ones and a 1, eigenvalues 3, 1, 0, 0.
    Fake = real: no magnitude term, and every eigenvector of the real kernel is its fake
    counterpart up to sign (|cos| = 1), so L = -(3/3 s_3 + 1/3 s_1) with s = +-1 the signs the
    two eigensolvers return (arbitrary, as in the source: -4/3 when they agree; machines differ)."""
    phi = _rows(0, 0, 0, 1)
    lam_s, v_s = kernel_eig(phi)
    assert lam_s[0].tolist() == pytest.approx([0.0, 0.0, 1.0, 3.0])
    lam_d, v_d = real_kernel_eig(phi)
    assert lam_d[0].tolist() == pytest.approx([1.0, 3.0])  # the two non-zero eigenvalues
    cos = (v_s[0, :, -2:] * v_d[0]).sum(0)
    assert cos.abs().tolist() == pytest.approx([1.0, 1.0])
    s_1, s_3 = cos.sign().tolist()
    assert dpp_loss(phi, phi.clone(), w=1.0).item() == pytest.approx(-(s_3 * 3 / 3 + s_1 * 1 / 3))


def test_magnitude_term_is_the_mean_squared_eigenvalue_gap_over_the_whole_batch():
    """Fake rows e1, e1, e1, e2 (eigenvalues 0, 0, 1, 3), real e1, e2, e1, e2 (0, 0, 2, 2): the
    mean over the 4 eigenvalues of the squared gaps is (1 + 1) / 4 = 0.5, times w."""
    fake, real = _rows(0, 0, 0, 1), _rows(0, 1, 0, 1)
    gap = dpp_loss(fake, real, w=1.0) - dpp_loss(fake, real, w=0.0)
    assert gap.item() == pytest.approx(0.5)
    gap = dpp_loss(fake, real, w=1e-4) - dpp_loss(fake, real, w=0.0)
    assert gap.item() == pytest.approx(0.5e-4)


def _direct(phi_fake: torch.Tensor, phi_real: torch.Tensor, w: float) -> torch.Tensor:
    """The paper's B x B form, eigenvectors' signs fixed so each one's largest entry is positive
    (the loss depends on the signs the eigensolver returns; fixing them compares like with
    like)."""

    def eig(phi):
        phi = torch.nn.functional.normalize(phi, dim=-1)
        lam, v = torch.linalg.eigh(phi @ phi.transpose(-1, -2))
        return lam, _signed(v)

    lam_s, v_s = eig(phi_fake)
    lam_d, v_d = eig(phi_real)
    magnitude = w * ((lam_d - lam_s) ** 2).mean(-1)
    weight = (lam_d - lam_d.amin(-1, keepdim=True)) / (
        lam_d.amax(-1, keepdim=True) - lam_d.amin(-1, keepdim=True)
    )
    return magnitude - (weight * (v_s * v_d).sum(-2)).sum(-1)


def _signed(v: torch.Tensor) -> torch.Tensor:
    idx = v.abs().argmax(-2, keepdim=True)
    return v * torch.sign(torch.gather(v, -2, idx))


def _signed_eigs(monkeypatch):
    import collapsebench.baselines.gdpp as gdpp

    fake_eig, real_eig = gdpp.kernel_eig, gdpp.real_kernel_eig

    def signed(fn):
        def eig(phi):
            lam, v = fn(phi)
            return lam, _signed(v)

        return eig

    monkeypatch.setattr(gdpp, "kernel_eig", signed(fake_eig))
    monkeypatch.setattr(gdpp, "real_kernel_eig", signed(real_eig))
    return gdpp


@pytest.mark.parametrize("rank", [6, 2])
def test_loss_and_gradient_equal_the_batch_kernel_form(monkeypatch, rank):
    """B = 24 samples, F = 6 features; fake features of full rank, or of rank 2 plus 1e-3 noise
    (what a collapsing generator's features look like): the loss equals the paper's B x B form
    in float64, once both fix the eigenvectors' signs the same way (the real kernel comes from
    the 6 x 6 problem). So does the gradient where torch's own eigh backward is defined; in
    both cases ours is finite. (The 18 eigenvalues every 24 x 24 kernel of 6 features has at 0
    are ties: their share of the gradient is TensorFlow's 0, test_safe_eigh below.)"""
    gdpp = _signed_eigs(monkeypatch)
    gen = torch.Generator().manual_seed(rank)
    basis = torch.randn(2, 24, rank, generator=gen, dtype=torch.float64)
    mix = torch.randn(2, rank, 6, generator=gen, dtype=torch.float64)
    fake = basis @ mix + (1e-3 * torch.randn(2, 24, 6, generator=gen, dtype=torch.float64))
    real = torch.randn(2, 24, 6, generator=gen, dtype=torch.float64)
    fake_a, fake_b = fake.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    ours = gdpp.dpp_loss(fake_a, real, w=1e-2)
    theirs = _direct(fake_b, real, 1e-2)
    assert ours.shape == (2,)
    torch.testing.assert_close(ours, theirs, rtol=1e-8, atol=1e-8)
    (g_ours,) = torch.autograd.grad(ours.sum(), fake_a)
    assert torch.isfinite(g_ours).all()
    if rank == 6:
        (g_theirs,) = torch.autograd.grad(theirs.sum(), fake_b)
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-6, atol=1e-8)


def test_gdpp_trains_under_the_veegan_protocol(tmp_path):
    """One smoke configuration end to end: finite losses, G moved, D's features 128 wide."""
    from collapsebench.benchmark.runs.planning import plan
    from collapsebench.benchmark.store.runstore import RunStore
    from collapsebench.benchmark.training.loop import train_run

    (spec,) = plan("ring8", ["gdpp"], [0], "smoke", suite_options={"protocol": "veegan"})
    metrics = train_run(spec, RunStore(tmp_path).run_dir(spec))
    assert metrics["diverged"] is False and math.isfinite(metrics["hq_fraction"])
    curves = (RunStore(tmp_path).run_dir(spec).path / "curves.csv").read_text().splitlines()
    assert len(curves) > 1 and "nan" not in "".join(curves[1:]).lower()


def test_safe_eigh_gradient_is_torch_s_away_from_ties_and_finite_at_them():
    """Distinct eigenvalues: the same gradient as torch.linalg.eigh's backward (float64). A
    rank-2 kernel of 8 samples (6 eigenvalues tied at 0, as a batch kernel always is when
    B > F): torch's backward is not finite, ours is (TensorFlow's safe reciprocal)."""
    from collapsebench.baselines.gdpp import SafeEigh

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 5, generator=gen, dtype=torch.float64)
    weights = torch.randn(2, 5, 5, generator=gen, dtype=torch.float64)

    def loss(eig, a):
        lam, v = eig(a @ a.transpose(-1, -2))
        return (lam**2).sum() + (weights * v).sum()

    a1, a2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    (g1,) = torch.autograd.grad(loss(SafeEigh.apply, a1), a1)
    (g2,) = torch.autograd.grad(loss(torch.linalg.eigh, a2), a2)
    torch.testing.assert_close(g1, g2, rtol=1e-8, atol=1e-10)

    low = torch.zeros(1, 8, 3, dtype=torch.float32)
    low[0, :4, 0], low[0, 4:, 1] = 1.0, 1.0  # two clusters: rank 2
    w8 = torch.randn(1, 8, 8, generator=gen)
    for eig, finite in ((SafeEigh.apply, True), (torch.linalg.eigh, False)):
        a = low.clone().requires_grad_(True)
        lam, v = eig(a @ a.transpose(-1, -2))
        (g,) = torch.autograd.grad((w8 * v).sum(), a)
        assert bool(torch.isfinite(g).all()) is finite
