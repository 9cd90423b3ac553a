"""Where and how a run computes: device, bf16 autocast, channels_last, determinism.

None of this is part of a run's identity (its key): the same configuration trained on a CPU or a
GPU is the same experiment. What a run actually used is written to the run's ``runtime.json``,
one entry per (re)start, so a table can always be traced to the hardware behind it.

Defaults: ``--device auto`` (CUDA when torch sees a GPU, else CPU); on CUDA the convolutional
(image) suites train under bf16 autocast with channels_last tensors (``--no-amp`` turns both
off); deterministic algorithms on CUDA unless ``--fast`` (which also enables cuDNN autotuning and
TF32 matmuls, trading bit-reproducibility for speed). On the CPU nothing changes unless asked:
fp32, the default kernels (already deterministic for a fixed thread count).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch

from ..errors import BenchError


def machine() -> dict[str, str]:
    """What a run's runtime.json records about the machine, with the time it (re)started."""
    import platform
    from datetime import datetime, timezone

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else ""
    return {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host_cpu": cpu,
        "cpu_count": str(os.cpu_count()),
        "gpu": gpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


@dataclass(frozen=True)
class Runtime:
    device: str = "cpu"
    #: bf16 autocast around the forward passes and losses
    amp: bool = False
    channels_last: bool = False
    #: torch.use_deterministic_algorithms on CUDA (and no cuDNN autotuning / TF32)
    deterministic: bool = True
    #: stream the loop's records to a logger ("tensorboard", training/tb_log.py) or not (None)
    log: str | None = None
    #: where the logger writes (None: inside each run directory)
    log_dir: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def autocast(self) -> contextlib.AbstractContextManager:
        kind = torch.device(self.device).type
        return torch.autocast(kind, dtype=torch.bfloat16, enabled=self.amp)


def resolve_device(name: str | None) -> str:
    """``auto`` / None -> cuda if available else cpu; ``cuda[:N]`` only when that GPU exists."""
    if name in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise BenchError(
                f"--device {name}: CUDA is not available here (torch {torch.__version__}, "
                f"{'no GPU visible' if torch.backends.cuda.is_built() else 'built without CUDA'}"
                "); use --device cpu or auto"
            )
        index = int(name[5:]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise BenchError(
                f"--device {name}: only {torch.cuda.device_count()} GPU(s) visible "
                f"(cuda:0..cuda:{torch.cuda.device_count() - 1})"
            )
        return name
    raise BenchError(f"unknown --device {name!r}; valid: auto, cpu, cuda, cuda:N")


def runtime_for(
    amp_capable: bool,
    device: str | None,
    no_amp: bool = False,
    fast: bool = False,
    log: str | None = None,
    log_dir: str | None = None,
) -> Runtime:
    """The runtime a command line asks for (``amp_capable``: the suite's nets gain from mixed
    precision on a GPU)."""
    from .tb_log import check_available

    dev = resolve_device(device)
    amp = amp_capable and dev.startswith("cuda") and not no_amp
    try:
        check_available(log)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    return Runtime(
        device=dev, amp=amp, channels_last=amp, deterministic=not fast, log=log, log_dir=log_dir
    )


@contextlib.contextmanager
def applied(rt: Runtime) -> Iterator[None]:
    """Set torch's global switches for ``rt`` on CUDA for the duration of a run, then put them
    back (so in-process callers, e.g. tests, see no leftover global state)."""
    if not rt.device.startswith("cuda"):
        yield
        return
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    # cuBLAS needs a fixed workspace for deterministic results (set before its first use)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(rt.deterministic)
    torch.backends.cudnn.benchmark = not rt.deterministic
    torch.backends.cuda.matmul.allow_tf32 = not rt.deterministic
    torch.backends.cudnn.allow_tf32 = not rt.deterministic
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0])
        torch.backends.cudnn.benchmark = saved[1]
        torch.backends.cuda.matmul.allow_tf32 = saved[2]
        torch.backends.cudnn.allow_tf32 = saved[3]
