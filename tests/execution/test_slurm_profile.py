"""Slurm profiles (slurm/*.yaml): lookup, validation with file:line, submitit parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnibench.errors import OmniBenchError, UnknownNameError
from omnibench.execution.slurm_profile import (
    BUILTIN_PROFILES,
    load_profile,
    profile_names,
    submitit_parameters,
)


def _write(tmp_path: Path, text: str, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_builtin_profiles_load() -> None:
    assert {"local", "gpu-example"} <= set(profile_names())
    local = load_profile("local")
    assert (local.partition, local.gpus_per_node, local.tasks) == ("debug", 0, 1)
    gpu = load_profile(str(BUILTIN_PROFILES / "gpu-example.yaml"))
    assert gpu.gpus_per_node == 4 and gpu.tasks == 4  # one DDP process per GPU
    assert (
        gpu.account
        and gpu.qos
        and gpu.constraint
        and any(line.startswith("module load") for line in gpu.setup)
    )


def test_submitit_parameters_carry_every_resource() -> None:
    params = submitit_parameters(load_profile("gpu-example"), "omnibench-few-shot", parallelism=3)
    assert params["gpus_per_node"] == params["tasks_per_node"] == 4
    assert params["slurm_array_parallelism"] == 3 and params["name"] == "omnibench-few-shot"
    assert params["slurm_partition"] == "gpu" and params["slurm_account"] == "my-project"
    assert params["slurm_qos"] == "normal" and params["slurm_constraint"] == "a100"
    assert params["timeout_min"] == 720 and params["mem_gb"] == 240 and params["cpus_per_task"] == 8
    assert params["slurm_setup"][0] == "module purge"
    assert params["slurm_additional_parameters"] == {"requeue": True, "mail-type": "FAIL"}
    cpu = submitit_parameters(load_profile("local"), "x", parallelism=1)
    assert "gpus_per_node" not in cpu and "slurm_account" not in cpu and cpu["tasks_per_node"] == 1


def test_tasks_per_node_defaults_to_one_per_gpu(tmp_path: Path) -> None:
    assert load_profile(str(_write(tmp_path, "gpus_per_node: 2\n"))).tasks == 2
    assert load_profile(str(_write(tmp_path, "tasks_per_node: 2\n"))).tasks == 2  # CPU DDP
    with pytest.raises(OmniBenchError, match="tasks_per_node: 0 must be >= 1"):
        load_profile(str(_write(tmp_path, "tasks_per_node: 0\n")))


def test_unknown_key_names_file_line_and_suggests(tmp_path: Path) -> None:
    path = _write(tmp_path, "partition: gpu\ngpus_per_node: 2\npartiton: gpu2\n")
    with pytest.raises(
        OmniBenchError, match=rf"^{path}:3: unknown key 'partiton' \(did you mean 'partition'\?\)"
    ):
        load_profile(str(path))


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("partition: gpu\ncpus_per_task: two\n", 2, "cpus_per_task: expected int, got 'two'"),
        (
            "time_min: 10\nsignal_delay_s: 600\n",
            2,
            r"signal_delay_s: 600 must be in \[0, time_min \* 60\)",
        ),
        ("gpus_per_node: -1\n", 1, "gpus_per_node: -1 must be >= 0"),
        ("setup:\n  - module load cuda\n  - 3\n", 1, "setup: expected str, got 3"),
        ("sbatch: exclusive\n", 1, "sbatch: expected a mapping"),
        ("- partition\n", 1, "a Slurm profile must be a mapping"),
    ],
)
def test_bad_values_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(OmniBenchError, match=rf"^{path}:{line}: .*{message}"):
        load_profile(str(path))


def test_setup_may_be_one_line_and_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_profile(str(_write(tmp_path, "setup: module load cuda\n"))).setup == (
        "module load cuda",
    )
    empty = load_profile(str(_write(tmp_path, "", "empty.yaml")))
    assert (empty.name, empty.partition, empty.time_min) == ("empty", None, 60)


def test_lookup_by_name_in_profile_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "partition: a100\n", "mysite.yaml")
    monkeypatch.setenv("OMNIBENCH_PROFILES", str(tmp_path))
    assert load_profile("mysite").partition == "a100"
    with pytest.raises(
        UnknownNameError,
        match=r"unknown Slurm profile 'mysiet' \(did you mean 'mysite'\?\); known: .*local",
    ):
        load_profile("mysiet")
    with pytest.raises(OmniBenchError, match="does not exist"):
        load_profile(str(tmp_path / "missing.yaml"))
