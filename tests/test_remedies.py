"""PacGAN, LSGAN, SN-GAN and Unrolled GAN: losses against hand computations on tiny networks
with known weights (float64), packing shapes, spectral norm, unrolled gradients, resume."""

import copy
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from collapsebench.baselines import REGISTRY
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.store.runstore import RunStore
from collapsebench.benchmark.suites import get_suite
from collapsebench.benchmark.suites import get_suite as _get_suite
from collapsebench.benchmark.suites.nets import ToyDiscriminator
from collapsebench.benchmark.training.loop import train_run

#: what a finished toy run's metrics.json holds: the diversity flag, the suite's reported
#: metrics and NDB's bin count
FINAL_METRICS = {"diverged", "ndb_bins", *_get_suite("gaussians25").evaluated_metrics}

REMEDIES = ("pacgan2", "pacgan3", "pacgan4", "lsgan", "sngan", "unrolled-gan")


class Linear(nn.Module):
    """f = w.x + b on ``pack`` consecutive rows read as one input (PacGAN's joint input)."""

    def __init__(self, w, b, pack=1):
        super().__init__()
        self.pack = pack
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def forward(self, x):
        # a leading model dim, if any, stays (stacked losses see (K, B, ...) batches)
        return x.reshape(*x.shape[:-2], x.shape[-2] // self.pack, -1) @ self.w + self.b


def make(name, total_steps=100, **params):
    cls = REGISTRY[name]
    return cls(cls.Params(**params), total_steps)


def sngan_nets(G, D):
    """SNGAN's nets as the loop makes them: ``prepare`` (spectral norm), then the optimisers."""
    method = make("sngan")
    method.prepare(G, D)
    return method.optimizers(G, D)


def t64(a):
    return torch.tensor(a, dtype=torch.float64)


# f(x) = 0.7 x1 - 0.4 x2 + 0.2; real logits 0.1, 0.95, -1.2, 2.0; fake -0.2, 3.1, -1.6, 0.5
W, B = [0.7, -0.4], 0.2
REAL = t64([[1.0, 2.0], [0.5, -1.0], [-2.0, 0.0], [2.0, -1.0]])
FAKE = t64([[0.0, 1.0], [3.0, -2.0], [-2.0, 1.0], [1.0, 1.0]])
D = Linear(W, B)


def logits(x, w=W, b=B, pack=1):
    x = np.asarray(x)
    return x.reshape(len(x) // pack, -1) @ np.asarray(w) + b


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


# -- PacGAN --------------------------------------------------------------------------------------
@pytest.mark.parametrize("m", [2, 3, 4])
def test_pacgan_losses_on_packed_inputs(m):
    method = make(f"pacgan{m}")
    assert method.pack == m
    assert REGISTRY[f"pacgan{m}"].Params() == REGISTRY["gan"].Params()
    rng = np.random.default_rng(m)
    real, fake = rng.normal(size=(12, 2)), rng.normal(size=(12, 2))
    w, b = rng.normal(size=2 * m), 0.3
    Dm = Linear(w.tolist(), b, pack=m)
    lr_, lf = logits(real, w, b, m), logits(fake, w, b, m)
    assert lr_.shape == (12 // m,)
    want_d = -(np.log(sigmoid(lr_)).mean() + np.log(1 - sigmoid(lf)).mean())
    want_g = -np.log(sigmoid(lf)).mean()
    got_d = method.d_loss(Dm, t64(real), t64(fake), 0, None).item()
    assert got_d == pytest.approx(want_d, rel=1e-12)
    assert method.g_loss(Dm, None, t64(fake), 0, None).item() == pytest.approx(want_g, rel=1e-12)


def test_packed_suite_discriminator_reads_m_samples_jointly():
    _, Dp = get_suite("gaussians25").with_protocol("gan-toy").build_nets(0, pack=3)
    seen = []
    Dp.net[0].register_forward_pre_hook(lambda mod, args: seen.append(tuple(args[0].shape)))
    out = Dp(torch.randn(12, 2))
    assert seen == [(4, 6)] and out.shape == (4,)
    # sample order matters: the first packed input is samples 0, 1, 2 side by side
    x = torch.randn(6, 2)
    torch.testing.assert_close(Dp(x)[0], Dp.net(x[:3].reshape(1, 6))[0, 0])


def _run(spec, root, progress=None):
    run = RunStore(root).run_dir(spec)
    run.write_config(spec)
    return run, train_run(spec, run, progress)


def _smoke(name, steps=3, **train):
    spec = plan("gaussians25", [name], [0], "smoke")[0]
    return dataclasses.replace(spec, train=dataclasses.replace(spec.train, steps=steps, **train))


@pytest.mark.parametrize("m", [2, 4])
def test_pacgan_loop_draws_batch_times_m(m, tmp_path, monkeypatch):
    cls = REGISTRY[f"pacgan{m}"]
    shapes = []
    d_loss, g_loss = cls.d_loss, cls.g_loss

    def spy_d(self, D, real, fake, step, draw):
        shapes.append(("d", tuple(real.shape), tuple(fake.shape), tuple(D(real).shape)))
        return d_loss(self, D, real, fake, step, draw)

    def spy_g(self, D, real, fake, step, draw):
        shapes.append(("g", tuple(fake.shape), tuple(D(fake).shape)))
        return g_loss(self, D, real, fake, step, draw)

    monkeypatch.setattr(cls, "d_loss", spy_d)
    monkeypatch.setattr(cls, "g_loss", spy_g)
    spec = _smoke(f"pacgan{m}")
    batch = spec.train.batch_size
    run, metrics = _run(spec, tmp_path)
    assert run.finished and set(metrics) == FINAL_METRICS
    assert (
        shapes
        == [
            ("d", (batch * m, 2), (batch * m, 2), (batch,)),  # one run: no model dim
            ("g", (batch * m, 2), (batch,)),
        ]
        * 3
    )


# -- LSGAN ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("abc", [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0)])
def test_lsgan_losses_match_hand_computation(abc):
    a, b, c = abc
    method = make("lsgan", a=a, b=b, c=c)
    lr_, lf = logits(REAL), logits(FAKE)
    want_d = 0.5 * ((lr_ - b) ** 2).mean() + 0.5 * ((lf - a) ** 2).mean()
    want_g = 0.5 * ((lf - c) ** 2).mean()
    assert method.d_loss(D, REAL, FAKE, 0, None).item() == pytest.approx(want_d, rel=1e-12)
    assert method.g_loss(D, None, FAKE, 0, None).item() == pytest.approx(want_g, rel=1e-12)


def test_lsgan_defaults_and_learning_rates():
    method = make("lsgan")
    assert (method.params.a, method.params.b, method.params.c) == (0.0, 1.0, 1.0)
    # by hand, default scheme: real (0.1-1)^2 .. ; fake logits^2
    want_d = 0.5 * (0.81 + 0.0025 + 4.84 + 1.0) / 4 + 0.5 * (0.04 + 9.61 + 2.56 + 0.25) / 4
    assert method.d_loss(D, REAL, FAKE, 0, None).item() == pytest.approx(want_d, rel=1e-12)
    G = nn.Linear(2, 2)
    opt_g, opt_d = make("lsgan", lr_g=1e-3).optimizers(G, Linear(W, B))
    assert opt_g.param_groups[0]["lr"] == 1e-3 and opt_d.param_groups[0]["lr"] == 1e-4
    assert opt_g.param_groups[0]["params"][0] is G.weight
    assert opt_d.param_groups[0]["betas"] == (0.5, 0.999)


# -- SN-GAN --------------------------------------------------------------------------------------
def test_sngan_hinge_losses_match_hand_computation():
    method = make("sngan")
    lr_, lf = logits(REAL), logits(FAKE)
    want_d = np.maximum(0, 1 - lr_).mean() + np.maximum(0, 1 + lf).mean()
    assert want_d == pytest.approx((0.9 + 0.05 + 2.2 + 0) / 4 + (0.8 + 4.1 + 0 + 1.5) / 4)
    assert method.d_loss(D, REAL, FAKE, 0, None).item() == pytest.approx(want_d, rel=1e-12)
    assert method.g_loss(D, None, FAKE, 0, None).item() == pytest.approx(-lf.mean(), rel=1e-12)
    assert method.n_critic == 5
    assert (method.params.lr, method.params.beta1, method.params.beta2) == (2e-4, 0.0, 0.9)


def _known_mlp():
    # W1 has orthogonal columns: singular values |(3, 0, 0.5)| = sqrt(9.25) and 1; W2: |.| = 3
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(t64([[3.0, 0.0], [0.0, 1.0], [0.5, 0.0]]))
        net[0].bias.copy_(t64([0.1, -0.2, 0.3]))
        net[2].weight.copy_(t64([[1.0, -2.0, 2.0]]))
        net[2].bias.copy_(t64([0.5]))
    return net


def test_sngan_discriminator_is_the_hand_normalised_network():
    net = _known_mlp()
    opt_g, opt_d = sngan_nets(nn.Linear(1, 1), net)
    x = t64([[1.0, 2.0], [-0.5, 0.3], [2.0, -1.0]])
    for _ in range(3):  # a few power iterations (training mode)
        net(x)
    net.eval()
    w1 = np.array([[3.0, 0.0], [0.0, 1.0], [0.5, 0.0]]) / np.sqrt(9.25)
    w2 = np.array([1.0, -2.0, 2.0]) / 3.0
    h = np.maximum(0, x.numpy() @ w1.T + np.array([0.1, -0.2, 0.3]))
    want = h @ w2 + 0.5
    assert net(x).detach().squeeze(-1).numpy() == pytest.approx(want, rel=1e-9)
    # the optimiser updates the unnormalised weights, which are unchanged
    original = net[0].parametrizations.weight.original
    assert original.tolist() == [[3.0, 0.0], [0.0, 1.0], [0.5, 0.0]]
    assert {id(p) for p in opt_d.param_groups[0]["params"]} == {id(p) for p in net.parameters()}
    assert any(p is original for p in opt_d.param_groups[0]["params"])


def test_sngan_largest_singular_value_is_one_on_suite_nets():
    torch.manual_seed(0)
    Dn = ToyDiscriminator(2, hidden=64, depth=3, pack=2)
    with torch.no_grad():
        for p in Dn.parameters():
            p.mul_(5.0)  # make sigma clearly != 1 before normalising
    linears = [m for m in Dn.modules() if isinstance(m, nn.Linear)]
    assert all(torch.linalg.matrix_norm(m.weight.detach(), 2) > 2 for m in linears)
    G = nn.Linear(1, 1)
    rng_before = torch.get_rng_state()
    sngan_nets(G, Dn)
    assert torch.equal(torch.get_rng_state(), rng_before)  # no global randomness consumed
    x = torch.randn(16, 2)
    for _ in range(10):
        Dn(x)
    for m in linears:
        sigma = torch.linalg.matrix_norm(m.weight.detach(), 2).item()
        assert 1 - 1e-5 < sigma < 1.01
    # idempotent: a second call does not stack a second normalisation
    sngan_nets(nn.Linear(1, 1), Dn)
    assert all(len(m.parametrizations.weight) == 1 for m in linears)


def test_sngan_normalises_convolutions_too():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(16, 1))
    sngan_nets(nn.Linear(1, 1), net)
    for _ in range(20):
        net(torch.randn(2, 1, 4, 4))
    conv_w = net[0].weight.detach().reshape(4, -1)  # Miyato et al.: W as (c_out, c_in k k)
    assert torch.linalg.matrix_norm(conv_w, 2).item() == pytest.approx(1.0, abs=1e-3)
    assert torch.linalg.matrix_norm(net[3].weight.detach(), 2).item() == pytest.approx(1.0)


def test_sngan_initialisation_is_reproducible():
    nets = []
    for i in range(2):
        torch.manual_seed(3)
        nets.append(ToyDiscriminator(2, hidden=32, depth=2))
        torch.manual_seed(100 + i)  # different global RNG state at normalisation time
        sngan_nets(nn.Linear(1, 1), nets[-1])
    a, b = (n.state_dict() for n in nets)
    assert a.keys() == b.keys() and any(k.endswith("_u") for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a)


# -- Unrolled GAN --------------------------------------------------------------------------------
def _np_d_grad(w, b, real, fake):
    """Gradient of L_D = -[mean log s(l_r) + mean log(1 - s(l_f))] for the linear D."""
    sr, sf = sigmoid(real @ w + b), sigmoid(fake @ w + b)
    gw = -((1 - sr)[:, None] * real).mean(0) + (sf[:, None] * fake).mean(0)
    gb = -(1 - sr).mean() + sf.mean()
    return gw, gb


def _np_adam(p, g, m, v, t, lr, b1, b2, eps):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    p = p - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
    return p, m, v


def _np_unrolled(fake, real, fake0, k, lr, b1, b2, eps):
    """theta_D^K by hand: one real Adam step of D on (real, fake0) from zero state, then k
    unrolled steps on (real, fake)."""
    w, b = np.array(W), np.array(B)
    mw, vw, mb, vb = np.zeros(2), np.zeros(2), 0.0, 0.0
    for t, f in enumerate([fake0] + [fake] * k, start=1):
        gw, gb = _np_d_grad(w, b, real, f)
        w, mw, vw = _np_adam(w, gw, mw, vw, t, lr, b1, b2, eps)
        b, mb, vb = _np_adam(b, gb, mb, vb, t, lr, b1, b2, eps)
    return w, b


def _np_g_loss(fake, real, w, b, loss):
    lr_, lf = real @ w + b, fake @ w + b
    if loss == "ns":
        return -np.log(sigmoid(lf)).mean()
    return np.log(sigmoid(lr_)).mean() + np.log(1 - sigmoid(lf)).mean()


def _np_unrolled_loss(fake, real, fake0, k, lr, b1, b2, eps, loss):
    return _np_g_loss(fake, real, *_np_unrolled(fake, real, fake0, k, lr, b1, b2, eps), loss)


def _unrolled_setup(k, loss, lr=0.05):
    method = make("unrolled-gan", unroll_steps=k, loss=loss, lr_d=lr)
    Dl = Linear(W, B)
    _, opt_d = method.optimizers(nn.Linear(1, 1), Dl)
    fake0 = FAKE.flip(0)
    loss_d = method.d_loss(Dl, REAL, fake0, 0, None)  # a real D step: Adam state is non-zero
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    return method, Dl, fake0


@pytest.mark.parametrize("loss", ["minimax", "ns"])
def test_unrolled_loss_and_gradient_match_hand_computation(loss):
    k, lr, b1, b2, eps = 3, 0.05, 0.5, 0.999, 1e-8
    method, Dl, fake0 = _unrolled_setup(k, loss, lr)
    fake = FAKE.clone().requires_grad_(True)
    got = method.g_loss(Dl, REAL, fake, 0, None)
    (grad,) = torch.autograd.grad(got, fake)
    args = (REAL.numpy(), fake0.numpy(), k, lr, b1, b2, eps, loss)
    want = _np_unrolled_loss(FAKE.numpy(), *args)
    assert got.item() == pytest.approx(want, rel=1e-10)
    # dL_G/dfake by central differences of the hand computation: includes the path through the
    # unrolled updates, which a first-order (detached theta_D^K) gradient would miss
    fd = np.zeros((4, 2))
    h = 1e-6
    for i in range(4):
        for j in range(2):
            e = np.zeros((4, 2))
            e[i, j] = h
            fd[i, j] = (
                _np_unrolled_loss(FAKE.numpy() + e, *args)
                - _np_unrolled_loss(FAKE.numpy() - e, *args)
            ) / (2 * h)
    assert grad.numpy() == pytest.approx(fd, abs=1e-7)
    # the unrolled path matters here: the gradient with theta_D^K held fixed differs clearly
    w, b = _np_unrolled(FAKE.numpy(), *args[:-1])
    sf = sigmoid(FAKE.numpy() @ w + b)
    first_order = -np.outer(1 - sf if loss == "ns" else sf, w) / 4
    assert np.abs(first_order - fd).max() > 1e-4


@pytest.mark.parametrize("loss", ["minimax", "ns"])
def test_unrolled_gradient_equals_gan_at_k0_and_differs_for_k_positive(loss):
    gan = make("gan", loss=loss)
    for k in (0, 1, 5):
        method, Dl, _ = _unrolled_setup(k, loss, lr=1e-4)  # D's own step first, then compare
        Dg = Linear(Dl.w.tolist(), Dl.b.item())
        fake = FAKE.clone().requires_grad_(True)
        (g_gan,) = torch.autograd.grad(gan.g_loss(Dg, REAL, fake, 0, None), fake)
        fake = FAKE.clone().requires_grad_(True)
        (g_unr,) = torch.autograd.grad(method.g_loss(Dl, REAL, fake, 0, None), fake)
        if k == 0:
            assert torch.allclose(g_unr, g_gan, rtol=1e-12, atol=0)
        else:
            assert (g_unr - g_gan).abs().max() > 1e-6


def test_unrolled_steps_are_d_optimiser_steps():
    """With G's samples held fixed, theta_D^K is exactly K more steps of D's own torch Adam."""
    torch.manual_seed(0)
    method = make("unrolled-gan", unroll_steps=3, lr_d=1e-2)
    Dn = ToyDiscriminator(2, hidden=16, depth=2)
    _, opt_d = method.optimizers(nn.Linear(1, 1), Dn)
    real, fake = torch.randn(32, 2), torch.randn(32, 2) + 1
    for _ in range(2):
        loss = method.d_loss(Dn, real, fake, 0, None)
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
    ref = copy.deepcopy(Dn)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-2, betas=(0.5, 0.999))
    ref_opt.load_state_dict(opt_d.state_dict())
    before = copy.deepcopy(Dn.state_dict())
    got = method.unrolled_params(Dn, real, fake)
    for _ in range(3):
        loss = make("gan").d_loss(ref, real, fake, 0, None)
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()
    for n, p in ref.named_parameters():
        torch.testing.assert_close(got[n].detach(), p.detach(), rtol=1e-5, atol=1e-7)
    # the unrolled copy moved; D itself was not touched
    assert not torch.equal(got["net.0.weight"].detach(), Dn.net[0].weight.detach())
    assert all(torch.equal(before[k], v) for k, v in Dn.state_dict().items())


def test_unrolled_gradient_is_finite_when_a_weight_gets_no_gradient():
    # second coordinate 0 everywhere: dL_D/dw2 = 0 with zero Adam state, so v = 0 for w2
    method = make("unrolled-gan", unroll_steps=2)
    Dl = Linear(W, B)
    method.optimizers(nn.Linear(1, 1), Dl)
    real = t64([[1.0, 0.0], [-1.0, 0.0]])
    fake = t64([[0.5, 0.0], [2.0, 0.0]]).requires_grad_(True)
    (grad,) = torch.autograd.grad(method.g_loss(Dl, real, fake, 0, None), fake)
    assert torch.isfinite(grad).all()


# -- the shared loop ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["lsgan", "sngan", "unrolled-gan"])
def test_new_methods_train_in_the_loop(name, tmp_path):
    run, metrics = _run(_smoke(name), tmp_path)
    assert run.finished and metrics["diverged"] is False
    assert set(metrics) == FINAL_METRICS
    assert len(run.read_curves()) == 1


def test_all_new_methods_are_registered():
    assert set(REMEDIES) <= set(REGISTRY)


@pytest.mark.parametrize("name", ["sngan", "unrolled-gan"])
def test_resume_round_trip(name, tmp_path):
    spec = _smoke(name, steps=4, checkpoint_every=2)
    run_a, metrics_a = _run(spec, tmp_path / "a")

    def interrupt(done):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(spec, tmp_path / "b", interrupt)
    run_b = RunStore(tmp_path / "b").run_dir(spec)
    assert not run_b.finished and run_b.load_checkpoint()["step"] == 2
    starts = []
    _, metrics_b = _run(spec, tmp_path / "b", lambda done: starts.append(done))
    assert starts[0] == 2  # it resumed rather than restarting
    assert metrics_b == metrics_a
    assert (run_b.path / "samples.npy").read_bytes() == (run_a.path / "samples.npy").read_bytes()
    assert run_b.read_curves().equals(run_a.read_curves())
    snaps_a, snaps_b = run_a.read_snapshots(), run_b.read_snapshots()
    assert snaps_a.keys() == snaps_b.keys()
    assert all(np.array_equal(snaps_a[k], snaps_b[k]) for k in snaps_a)
    ckpt = run_b.load_checkpoint()
    if name == "sngan":
        assert any(k.endswith("parametrizations.weight.0._u") for k in ckpt["D"])
