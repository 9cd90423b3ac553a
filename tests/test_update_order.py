"""The update order a protocol sets: under "simultaneous" one loop step equals a plain
hand-written step in which G's and D's gradients are both taken at the same (G, D), from one
forward pass on a batch drawn fresh from the mixture (the VEEGAN/GDPP code's two train ops);
"alternating" is a different run, with its own key and results folder."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.suites import get_suite
from collapsebench.benchmark.training.loop import Trainer
from collapsebench.benchmark.training.runtime import Runtime


def _spec(order: str | None = None, method: str = "gan"):
    options = {"protocol": "veegan"} | ({"update_order": order} if order else {})
    (spec,) = plan("ring8", [method], [3], "smoke", suite_options=options)
    return spec


def test_simultaneous_step_equals_a_hand_written_simultaneous_step():
    spec = _spec()
    trainer = Trainer([spec], Runtime())
    trainer.step(0, log=False)

    # the same step by hand: nets from the suite, one generator for the run's draws
    suite = get_suite("ring8").with_protocol("veegan")
    G, D = suite.build_nets(spec.seed)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.999))
    rng = torch.Generator().manual_seed(spec.seed)
    B = spec.train.batch_size
    real = suite.sample_real(B, rng)  # fresh from the mixture
    fake = G(torch.randn(B, 256, generator=rng))
    loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    loss_g = F.softplus(-D(fake)).mean()
    g_grads = torch.autograd.grad(loss_g, list(G.parameters()))
    d_grads = torch.autograd.grad(loss_d, list(D.parameters()))
    for p, g in zip(G.parameters(), g_grads, strict=True):
        p.grad = g
    for p, g in zip(D.parameters(), d_grads, strict=True):
        p.grad = g
    opt_g.step()
    opt_d.step()

    for ours, theirs in ((trainer.models.g, G), (trainer.models.d, D)):
        for (name, a), b in zip(
            ours.state_dict().items(), theirs.state_dict().values(), strict=True
        ):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)
    # and the run's generator has drawn exactly the batch and one noise batch
    assert torch.equal(trainer.rngs[0].get_state(), rng.get_state())


def test_alternating_draws_noise_twice_and_differs():
    """Alternating: D steps on one noise batch, G on a fresh one, so the stream has moved
    further and the generator differs from the simultaneous step's."""
    sim, alt = Trainer([_spec()], Runtime()), Trainer([_spec("alternating")], Runtime())
    sim.step(0, log=False)
    alt.step(0, log=False)
    assert not torch.equal(sim.rngs[0].get_state(), alt.rngs[0].get_state())
    g_sim, g_alt = sim.models.g.state_dict(), alt.models.g.state_dict()
    assert any(not torch.equal(g_sim[k], g_alt[k]) for k in g_sim)


def test_the_update_order_is_in_the_run_key_only_where_it_departs_from_the_protocol():
    sim, alt = _spec(), _spec("alternating")
    assert sim.suite_params["update_order"] == "simultaneous"
    assert alt.suite_params["update_order"] == "alternating"
    assert sim.config_hash() != alt.config_hash()
    # under dyngan alternating is the protocol's own order: the key is the one it always was
    (dyn,) = plan("ring8", ["gan"], [0], "smoke", suite_options={"protocol": "dyngan"})
    assert "update_order" not in dyn.suite_params
    # a run resolved from its stored config gets the order it was trained with
    assert get_suite("ring8").resolve(alt.suite_params).update_order == "alternating"


def test_simultaneous_wgan_gp_takes_its_generator_step_with_the_last_critic_step():
    """n_critic = 5 under simultaneous: 4 critic steps alone, then one joint step; the stream
    has drawn 5 real and 5 noise batches (one fewer noise batch than alternating's 6)."""
    spec = _spec(method="wgan-gp")
    t = Trainer([spec], Runtime())
    assert t.method.n_critic == 5 and t.simultaneous == 1
    t.step(0, log=True)
    assert t.models.opt_g.state_dict()["state"][0]["step"] == 1
    assert t.models.opt_d.state_dict()["state"][0]["step"] == 5
