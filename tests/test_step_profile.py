"""runs/step_profile.py: the FLOP count of one training step against a count by hand from the
protocol's layer sizes, and the profile command's output."""

import json

from collapsebench.benchmark.cli.main import main
from collapsebench.benchmark.runs.planning import plan
from collapsebench.benchmark.runs.step_profile import flops_per_step


def _mm(b, i, o):
    return 2 * b * i * o


def test_flops_per_step_of_dyngan_gan_equals_the_hand_count():
    """DynGAN's nets (docs/protocols.md): G 50 -> 128 -> 128 -> 2, D 2 -> 128 -> 128 -> 1,
    batch 128, one D step per G step. Every Linear costs 2 B in out forward; backward costs the
    same for the weight gradient and again for the input gradient where the input needs one."""
    B = 128
    g_layers = [(50, 128), (128, 128), (128, 2)]
    d_layers = [(2, 128), (128, 128), (128, 1)]
    g_fwd = sum(_mm(B, i, o) for i, o in g_layers)
    d_fwd = sum(_mm(B, i, o) for i, o in d_layers)
    d_in_after_first = sum(_mm(B, i, o) for i, o in d_layers[1:])
    g_in_after_first = sum(_mm(B, i, o) for i, o in g_layers[1:])
    # D step: G forward (no grad), D on real and on fake, each backward: weight gradients of
    # every layer, input gradients of all but the first (data and detached fakes need none)
    d_step = g_fwd + 2 * d_fwd + 2 * (d_fwd + d_in_after_first)
    # G step: G and D forward; backward: input gradients through all of D (D is frozen: no
    # weight gradients), weight gradients of G, input gradients of G but its first layer
    g_step = g_fwd + d_fwd + d_fwd + g_fwd + g_in_after_first
    (spec,) = plan("gaussians25", ["gan"], [0], "default", suite_options={"protocol": "dyngan"})
    assert flops_per_step(spec) == d_step + g_step


def test_perf_profile_json(capsys):
    argv = ["perf", "--suite", "ring8", "--protocol", "dyngan", "--method", "gan", "--profile"]
    assert main([*argv, "--steps", "3", "--repeats", "1", "--no-compile", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["protocol"] == "dyngan" and r["batch_size"] == 128
    assert r["flops_per_step"] > 0 and r["machine_matmul_gflops_per_s"] > 0
    flops_rate = r["flops_per_step"] / (r["eager_step_ms"] / 1000) / 1e9
    assert abs(flops_rate - r["eager_gflops_per_s"]) <= 0.01 * flops_rate + 0.002
    want = r["eager_gflops_per_s"] / r["machine_matmul_gflops_per_s"]
    assert abs(r["fraction_of_matmul_rate"] - want) <= 0.01 * want + 1e-4
    shares = [o["share"] for o in r["top_operators"]]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0001
    assert "compiled_speedup" not in r


def test_perf_profile_unknown_protocol_is_one_line(capsys):
    assert main(["perf", "--protocol", "nope", "--profile"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unknown protocol 'nope'" in err
