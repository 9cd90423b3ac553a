"""`--executor slurm`'s flags and how they become ``SlurmOptions`` (runs/slurm_executor.py)."""

from __future__ import annotations

from ..errors import BenchError


def add_slurm_arguments(p, positive_int) -> None:
    """The Slurm flags of every command that trains (flags override --slurm-config);
    ``positive_int``: the command line's type for counts."""
    s = p.add_argument_group("--executor slurm (flags override --slurm-config)")
    s.add_argument("--slurm-config", default=None, metavar="FILE", help="JSON: partition, "
                   "time, cpus_per_task, gpus_per_task, array_parallelism, sbatch")  # fmt: skip
    s.add_argument("--slurm-partition", default=None)
    s.add_argument("--slurm-time", type=positive_int, default=None, help="minutes per task")
    s.add_argument("--slurm-cpus", type=positive_int, default=None, help="CPUs per task")
    s.add_argument("--slurm-gpus", type=int, default=None, help="GPUs per task")
    s.add_argument("--slurm-array-parallelism", type=positive_int, default=None)
    s.add_argument(
        "--slurm-option",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="any other sbatch option (repeatable), e.g. qos=high",
    )
    s.add_argument(
        "--no-wait",
        action="store_true",
        help="submit and exit; collect later with bench table (same options)",
    )


SLURM_FLAGS = (
    "slurm_config",
    "slurm_partition",
    "slurm_time",
    "slurm_cpus",
    "slurm_gpus",
    "slurm_array_parallelism",
    "slurm_option",
    "no_wait",
)


def slurm_options(args):
    """--executor slurm's options: the config file, then the flags over it."""
    from ..runs.slurm_executor import load_options

    extra = {}
    for item in args.slurm_option or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BenchError(f"--slurm-option {item!r}: write KEY=VALUE (an sbatch option)")
        extra[key] = value
    return load_options(
        args.slurm_config,
        {
            "partition": args.slurm_partition,
            "time": args.slurm_time,
            "cpus_per_task": args.slurm_cpus,
            "gpus_per_task": args.slurm_gpus,
            "array_parallelism": args.slurm_array_parallelism,
            "sbatch": extra or None,
        },
    )
