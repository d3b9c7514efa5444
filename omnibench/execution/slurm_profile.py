"""Slurm resource profiles: ``slurm/<name>.yaml`` -> a validated :class:`SlurmProfile`.

A profile says where and with what the jobs of one ``omnibench run --executor slurm`` go:
partition, account, QoS, constraint, GPUs per node, CPUs per task, memory, time limit,
shell commands run before the job (``module load``, activating an environment) and how many
array tasks may run at once. Unknown keys and bad values fail with ``file:line``.

Profiles are looked up as a path (``my/profile.yaml``), else by name in ``$OMNIBENCH_PROFILES``
(``:``-separated folders), ``./slurm/`` and the ``slurm/`` folder next to the package.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omnibench.config.spec import SpecError, coerce
from omnibench.config.yaml_lines import load_yaml
from omnibench.errors import OmniBenchError, UnknownNameError
from omnibench.registry import did_you_mean

PROFILES_ENV = "OMNIBENCH_PROFILES"
BUILTIN_PROFILES = Path(__file__).resolve().parents[2] / "slurm"


class ProfileError(OmniBenchError):
    """A profile file has an unknown key or a bad value."""


@dataclasses.dataclass(frozen=True)
class SlurmProfile:
    """Resources of every job submitted with this profile (one job = one run)."""

    name: str = "default"
    description: str = ""
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    nodes: int = 1
    gpus_per_node: int = 0  # >1: one task per GPU, the engine's DDP joins them
    tasks_per_node: int | None = None  # None: one per GPU (at least one); set it for CPU DDP
    cpus_per_task: int = 1
    mem_gb: float | None = None  # per node; None: the partition's default
    time_min: int = 60  # wall-clock limit of one job (it requeues on timeout)
    array_parallelism: int = 32  # array tasks running at once (--max-parallel overrides)
    setup: tuple[str, ...] = ()  # shell lines run in the batch script before the job
    signal_delay_s: int = 120  # USR2 this long before the limit: checkpoint and requeue
    max_requeues: int = 3  # timeouts after which a job is not requeued again
    python: str | None = None  # interpreter on the compute nodes (default: this one)
    sbatch: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # extra #SBATCH options

    def __post_init__(self) -> None:
        checks = {
            "nodes": (self.nodes >= 1, ">= 1"),
            "gpus_per_node": (self.gpus_per_node >= 0, ">= 0"),
            "tasks_per_node": (self.tasks_per_node is None or self.tasks_per_node >= 1, ">= 1"),
            "cpus_per_task": (self.cpus_per_task >= 1, ">= 1"),
            "mem_gb": (self.mem_gb is None or self.mem_gb > 0, "> 0"),
            "time_min": (self.time_min >= 1, ">= 1"),
            "array_parallelism": (self.array_parallelism >= 1, ">= 1"),
            "max_requeues": (self.max_requeues >= 0, ">= 0"),
            "signal_delay_s": (
                0 <= self.signal_delay_s < self.time_min * 60,
                "in [0, time_min * 60)",
            ),
        }
        for key, (ok, bound) in checks.items():
            if not ok:
                raise SpecError(f"{key}: {getattr(self, key)!r} must be {bound}")
        object.__setattr__(self, "sbatch", dict(self.sbatch))

    @property
    def tasks(self) -> int:
        """Processes per node: ``tasks_per_node``, else one per GPU (DDP), else one."""
        return self.tasks_per_node or max(1, self.gpus_per_node)


KEYS = tuple(f.name for f in dataclasses.fields(SlurmProfile) if f.name != "name")


def profile_dirs() -> list[Path]:
    """Folders searched for ``<name>.yaml``, first match wins."""
    extra = [
        Path(p).expanduser()
        for p in os.environ.get(PROFILES_ENV, "").split(os.pathsep)
        if p.strip()
    ]
    return [*extra, Path.cwd() / "slurm", BUILTIN_PROFILES]


def profile_names() -> list[str]:
    """Names of every profile found in :func:`profile_dirs`."""
    names = {p.stem for d in profile_dirs() if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names)


def resolve_profile(name_or_path: str) -> Path:
    """The file of profile ``name_or_path`` (a path, or a name found in :func:`profile_dirs`)."""
    as_path = Path(name_or_path).expanduser()
    if as_path.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        if not as_path.is_file():
            raise OmniBenchError(f"Slurm profile file {as_path} does not exist")
        return as_path
    for folder in profile_dirs():
        candidate = folder / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    known = profile_names()
    raise UnknownNameError(
        f"unknown Slurm profile '{name_or_path}'{did_you_mean(name_or_path, known)}; "
        f"known: {', '.join(known) or 'none'} (searched "
        f"{', '.join(str(d) for d in profile_dirs())})"
    )


def load_profile(name_or_path: str) -> SlurmProfile:
    """Read and validate a profile; every error names ``file:line``."""
    path = resolve_profile(name_or_path)
    doc = load_yaml(path)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, Mapping):
        raise ProfileError(f"{doc.where()}: a Slurm profile must be a mapping of {', '.join(KEYS)}")
    hints = typing.get_type_hints(SlurmProfile)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            hint = did_you_mean(str(key), list(KEYS))
            raise ProfileError(
                f"{doc.where(key)}: unknown key '{key}'{hint}; known: {', '.join(KEYS)}"
            )
        if key == "setup" and isinstance(value, str):
            value = [value]
        try:
            values[key] = coerce(value, hints[key], f"{doc.where(key)}: {key}")
        except SpecError as err:
            raise ProfileError(str(err)) from None
    try:
        return SlurmProfile(name=path.stem, **values)
    except SpecError as err:
        raise ProfileError(f"{doc.where(str(err).split(':', 1)[0])}: {err}") from None


def submitit_parameters(profile: SlurmProfile, job_name: str, parallelism: int) -> dict[str, Any]:
    """``AutoExecutor.update_parameters`` keywords for jobs of this profile."""
    slurm = {
        "partition": profile.partition,
        "account": profile.account,
        "qos": profile.qos,
        "constraint": profile.constraint,
        "setup": list(profile.setup),
        "array_parallelism": parallelism,
        "signal_delay_s": profile.signal_delay_s,
        # --requeue: jobs may requeue (preemption, timeout) even where JobRequeue=0
        "additional_parameters": {"requeue": True, **profile.sbatch},
    }
    generic = {
        "name": job_name,
        "timeout_min": profile.time_min,
        "nodes": profile.nodes,
        "tasks_per_node": profile.tasks,
        "cpus_per_task": profile.cpus_per_task,
        "gpus_per_node": profile.gpus_per_node or None,
        "mem_gb": profile.mem_gb,
    }
    params = {k: v for k, v in generic.items() if v is not None}
    params.update({f"slurm_{k}": v for k, v in slurm.items() if v is not None})
    return params
