"""How `bench run` lays out its runs when ``--workers`` / ``--batch-models`` are not given.

Measured with `bench perf` on a 2-core CPU (toy suites, the default protocol's 2x128 MLPs,
batch 128; docs/performance.md has the output):

* one process per core at 1 thread each runs the plain loop at 2.07x one process with both
  threads (GAN: 995 against 481 generator steps/s; WGAN-GP: 215 against 109): these nets are
  too small for two threads to share a matmul, so cores are best used by separate runs;
* a worker process costs about 3 s to start, so commands of fewer than 20,000 generator steps
  in all (smoke presets) train in the calling process;
* stacking seeds pays little at small K on one thread (K = 3: 1.07x for GAN and WGAN-GP)
  and much at large K (K = 10: 1.75x for GAN), while fewer, longer jobs balance worse over
  the processes. So seeds are stacked from ``STACK_FROM`` per configuration on, split into
  one stack per process (10 seeds on 2 cores: two stacks of 5), or a core would sit idle
  beside a single stack (`bench perf --layout` measures the chosen layout against plain
  loops in one 1-thread process per core).
* stacking pays only where one model's step is small. It did not at the `veegan` protocol's
  batch of 512 (the same 2x128 MLPs; K = 5 at 1 thread: GAN 0.957x, GDPP 0.977x sequential)
  nor for the digits DCGAN nets at batch 64 (10 classes: 0.974x). So on a CPU only toy suites
  with batches up to ``STACK_MAX_BATCH`` are stacked.

On a GPU one process owns the device and stacking is what fills it, so there the rule is
one worker, and seeds stacked whenever there are several (not measured here: no GPU).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..store.spec import RunSpec
from ..suites import get_suite
from .jobs import threads_per_worker

#: below this many generator steps in all, runs stay in this process: a worker process costs
#: about 3 s to start (interpreter and torch import), more than a short command saves
MIN_STEPS_FOR_PROCESSES = 20_000
#: seeds per configuration from which stacking them beats spreading runs over processes (CPU)
STACK_FROM = 8
#: the most models one stacked job holds when the layout is chosen automatically
MAX_STACK = 16
#: the largest batch at which stacking toy MLPs paid on the CPU (128 did, 512 did not)
STACK_MAX_BATCH = 128


@dataclass(frozen=True)
class Layout:
    workers: int
    #: K for ``plan_jobs`` (None: runs one at a time)
    batch_models: int | None
    why: str


def configurations(specs: Sequence[RunSpec]) -> Counter:
    """Runs per configuration (what stacking may group: the same key but seed and class)."""
    return Counter(s.config_hash() for s in specs)


def stacking_pays_on_cpu(spec: RunSpec) -> bool:
    """Whether stacking ``spec``'s configuration was measured to pay on a CPU (see above)."""
    return get_suite(spec.suite).kind == "toy" and spec.train.batch_size <= STACK_MAX_BATCH


def choose_layout(specs: Sequence[RunSpec], device: str, streaming_log: bool = False) -> Layout:
    """The layout for ``specs`` on this machine (``device``: the resolved device)."""
    largest = max(configurations(specs).values(), default=1)
    if device.startswith("cuda"):
        k = min(largest, MAX_STACK) if largest > 1 and not streaming_log else None
        return Layout(1, k, "one process on the GPU" + (f", {k} runs stacked" if k else ""))
    cores = threads_per_worker(1)
    workers = max(1, min(cores, len(specs)))
    if sum(s.train.steps for s in specs) < MIN_STEPS_FOR_PROCESSES:
        workers = 1
    k = None
    pays = all(stacking_pays_on_cpu(s) for s in specs)
    if largest >= STACK_FROM and not streaming_log and pays:
        k = min(-(-largest // workers), MAX_STACK)  # one stack per process
    why = f"{workers} process{'es' if workers > 1 else ''} x {threads_per_worker(workers)} thread"
    why += "s" if threads_per_worker(workers) > 1 else ""
    if k:
        why += f", {k} runs stacked"
    elif pays:
        why += f", runs one at a time (stacked from {STACK_FROM} seeds)"
    else:
        why += ", runs one at a time (stacking does not pay at these sizes on a CPU)"
    return Layout(workers, k, why)
