"""Bad input and unsafe paths: one line naming the path, never a traceback, never a file outside the
store.

Permission cases run with file permissions enforced (the ``unprivileged`` fixture: as root, the
capabilities that bypass them are dropped), so they test something when CI runs as root.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from omnibench.cli import main
from omnibench.config.runtime import RuntimeOptions
from omnibench.data import MOTIONS, SynthConfig, generate_synthetic
from omnibench.engine.checkpoint import read_checkpoint
from omnibench.errors import OmniBenchError
from omnibench.store.run_store import RunStore, atomic_write_json
from omnibench.suite.load import load_suite
from tests.conftest import TinyData, cpu_options, tiny_suite_text


def suite_text(name: str) -> str:
    """Quick evaluation-only runs, one seed."""
    return tiny_suite_text(name, description="quick evaluation-only runs", title="t")


@pytest.fixture(scope="module")
def data_root(tiny_data: TinyData) -> Path:
    return tiny_data()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "Traceback" not in out, out
    return code, " ".join(out.split())  # rich wraps long lines


def omnibench(
    prefix: list[str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "omnibench", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_a_suite_named_dot_dot_writes_nothing_outside_the_results(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suites, results = tmp_path / "suites", tmp_path / "area" / "results"
    suites.mkdir()
    results.mkdir(parents=True)
    (suites / "...yaml").write_text(suite_text(".."))
    code, out = cli(
        capsys, "run", str(suites / "...yaml"), "--results", str(results), *cpu_options(data_root)
    )
    assert (
        code == 2
        and f"{suites / '...yaml'}:1: suite name '..' cannot name a folder in the run store" in out
    )
    assert sorted(p.name for p in (tmp_path / "area").iterdir()) == ["results"] and not any(
        results.iterdir()
    )
    with pytest.raises(OmniBenchError, match="suite name '..' cannot name a folder"):
        RunStore(results).run_dir("..", "0123456789ab")
    with pytest.raises(OmniBenchError, match="run id '../x' cannot name a folder"):
        RunStore(results).run_dir("tiny", "../x")
    code, out = cli(capsys, "ls", "runs", "--suite", "..", "--results", str(results))
    assert code == 2 and "suite name '..'" in out


def test_a_run_never_writes_its_log_through_a_symlink(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite_file = tmp_path / "linked.yaml"
    suite_file.write_text(suite_text("linked"))
    [spec] = load_suite(suite_file).specs
    store, outside = RunStore(tmp_path / "results"), tmp_path / "outside.txt"
    outside.write_text("")
    store.prepare("linked", spec)
    store.log_path("linked", spec.run_id()).symlink_to(outside)
    code, out = cli(
        capsys, "run", str(suite_file), "--results", str(store.root), *cpu_options(data_root)
    )
    assert (
        code == 1
        and "log.txt: is a symbolic link; a run writes its log only into its own folder" in out
    )
    assert store.read_status("linked", spec.run_id()).state == "failed"
    assert outside.read_text() == ""


def test_results_that_is_a_file_or_not_writable_is_one_line(
    tmp_path: Path, data_root: Path, unprivileged: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    suite_file = tmp_path / "store.yaml"
    suite_file.write_text(suite_text("store"))
    common = ["--data-root", str(data_root), "--workers", "0", "--device", "cpu"]
    (tmp_path / "file").write_text("")
    code, out = cli(capsys, "run", str(suite_file), "--results", str(tmp_path / "file"), *common)
    assert (
        code == 2
        and f"run store {tmp_path / 'file'} is a file, not a folder (change --results)" in out
    )
    code, out = cli(
        capsys, "run", str(suite_file), "--results", str(tmp_path / "file" / "below"), *common
    )
    assert code == 2 and "cannot be created: Not a directory (change --results)" in out
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    proc = omnibench(unprivileged, "run", str(suite_file), "--results", str(locked), *common)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"run store {locked} is not writable by this user (change --results)" in " ".join(
        proc.stderr.split()
    )


BOMB = [
    "name: bomb",
    "description: an alias bomb",
    "a0: &a0 [x, x, x, x, x, x, x, x, x, x]",
    *[f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)],
    "base: {seed: *a8}",
]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "latin1",
            b"name: latin1\ndescription: caf\xe9\n",
            ":2: not UTF-8 text (byte 0xe9); save the file as UTF-8",
        ),
        (
            "loop",
            b"name: loop\ndescription: x\nbase: &b\n  model: *b\n",
            ":3: a YAML alias refers to the node that contains it (a recursive structure)",
        ),
        ("bomb", "\n".join(BOMB).encode(), ": YAML aliases expand to more than 100000 values"),
    ],
)
def test_unreadable_suite_files_are_one_line_and_an_alias_bomb_is_refused_fast(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(content)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = omnibench(
        [], "validate", str(path), timeout=120
    )  # the bomb took minutes and gigabytes before
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr
    assert f"{path}{message}" in " ".join((proc.stdout + proc.stderr).split())
    assert after.ru_utime - before.ru_utime < 10  # CPU seconds: the expansion is bounded


def test_a_checkpoint_that_is_not_a_dict_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(
        OmniBenchError,
        match=r"checkpoint.pt: not an omnibench checkpoint \(it holds a list\); delete it",
    ):
        read_checkpoint(path, "0123456789ab")


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:0", "cuda:3"])
def test_device_names_that_are_accepted(device: str) -> None:
    assert RuntimeOptions(device=device).device == device


@pytest.mark.parametrize("device", ["gpu", "tpu", "cuda:", "cuda:x", "CPU", "cuda:-1", "mps"])
def test_other_device_names_are_refused_before_anything_runs(
    device: str, tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite_file = tmp_path / "dev.yaml"
    suite_file.write_text(suite_text("dev"))
    code, out = cli(
        capsys,
        "run",
        str(suite_file),
        "--results",
        str(tmp_path / "r"),
        "--device",
        device,
        "--dry-run",
    )
    assert code == 2 and f"--device {device}: not a device; use auto, cpu, cuda or cuda:N" in out
    with pytest.raises(OmniBenchError, match="not a device"):
        RuntimeOptions(device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_cuda_is_refused_in_one_line_before_any_run(
    device: str, tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite_file = tmp_path / "dev.yaml"
    suite_file.write_text(suite_text("dev"))
    code, out = cli(
        capsys,
        "run",
        str(suite_file),
        "--results",
        str(tmp_path / "r"),
        "--data-root",
        str(data_root),
        "--device",
        device,
    )
    assert (
        code == 2
        and f"--device {device}: CUDA is not available here" in out
        and "use --device cpu" in out
    )
    assert not (tmp_path / "r").exists()


def test_a_permission_denied_video_is_reported_as_such(
    tmp_path: Path, unprivileged: list[str]
) -> None:
    data = generate_synthetic(
        tmp_path / "data",
        SynthConfig(classes=tuple(MOTIONS)[:2], videos_per_class=6, frames=8, size=32),
    )
    video = data / (data / "train.txt").read_text().split()[0]
    video.chmod(0o000)
    proc = omnibench(unprivileged, "data", "check", str(data), "--split", "train", "-j", "1")
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 1 and f"{video}: permission denied" in out, out
    assert "corrupt" not in out
    video.chmod(0o644)
    video.parent.chmod(0o600)  # a folder that cannot be entered
    probe = (
        "from pathlib import Path; from omnibench.protocols.preflight import look_alike; "
        f"print(look_alike(Path({str(video)!r})))"
    )
    proc = subprocess.run(
        [*unprivileged, sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert (
        proc.stdout.strip()
        == f"permission denied: folder {video.parent} cannot be entered by this user"
    )
    video.parent.chmod(0o755)


def test_a_mistyped_data_root_is_named_instead_of_generating_a_benchmark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite_file = tmp_path / "typo.yaml"
    suite_file.write_text(suite_text("typo"))
    mistyped = tmp_path / "dta"
    code, out = cli(
        capsys, "run", str(suite_file), "--results", str(tmp_path / "r"), *cpu_options(mistyped)
    )
    assert code == 2 and f"data root not found: {mistyped} (change --data-root)" in out
    assert not mistyped.exists() and not (tmp_path / "r").exists()
    from omnibench.data import get_dataset

    with pytest.raises(OmniBenchError, match="data root not found"):
        get_dataset("synthetic", data_root=mistyped)
    assert not mistyped.exists()


def test_validate_checks_data_roots_and_takes_the_runs_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate says what run --dry-run says: a dataset without a data root fails it; --data-root,
    --set and --limit validate the variant that will run; status and report take --data-root."""
    monkeypatch.delenv("OMNIBENCH_DATA", raising=False)
    monkeypatch.setenv("OMNIBENCH_DATASETS_CONFIG", str(tmp_path / "datasets.yaml"))
    suite_file = tmp_path / "hmdb.yaml"
    suite_file.write_text(suite_text("hmdb").replace("synthetic", "hmdb51"))
    code, out = cli(capsys, "validate", str(suite_file))
    assert code == 2 and "fails hmdb: 1 run" in out
    assert "error: no data root for dataset 'hmdb51': pass --data-root DIR" in out
    (tmp_path / "data" / "hmdb51").mkdir(parents=True)
    code, out = cli(capsys, "validate", str(suite_file), "--data-root", str(tmp_path / "data"))
    assert code == 0 and "ok hmdb: 1 run" in out
    code, out = cli(capsys, "validate", str(suite_file), "--set", "optim.lr=.inf", "--limit", "2")
    assert code == 2 and "--set optim.lr=.inf: optim.lr: must be a finite number, got inf" in out
    code, out = cli(capsys, "validate", str(suite_file), "--set", "seed=3", "--limit", "2")
    assert code == 2 and "no data root for dataset 'hmdb51'" in out  # the variant, checked
    (tmp_path / "r").mkdir()
    mistyped = ["--results", str(tmp_path / "r"), "--data-root", str(tmp_path / "x")]
    warning = f"warning: data root not found: {tmp_path / 'x'} (change --data-root)"
    for command in ("status", "report"):
        code, out = cli(capsys, command, str(suite_file), *mistyped)
        assert code == 0 and warning in out


def test_names_too_long_for_the_filesystem_are_one_line_or_shortened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_file = tmp_path / ("a" * 300 + ".yaml")
    code, out = cli(capsys, "run", str(long_file), "--dry-run")
    assert code == 2 and "file name too long" in out and "at most 255" in out
    code, out = cli(capsys, "status", "a" * 300)
    assert code == 2 and "file name too long" in out
    name = "s" * 250  # fits a folder name; "<name>-<table>.csv" would not
    suite_file = tmp_path / f"{name}.yaml"
    suite_file.write_text(suite_text(name))
    results = ["--results", str(tmp_path / "r")]
    store = RunStore(tmp_path / "r")
    spec = load_suite(suite_file).specs[0]
    run_dir = store.prepare(name, spec)
    atomic_write_json(run_dir / "record.json", {"run_id": spec.run_id(), "metrics": {"top1": 1}})
    csv = tmp_path / "csv"
    code, out = cli(capsys, "report", str(suite_file), *results, "--csv", str(csv))
    assert code == 0 and [len(p.name) for p in csv.iterdir()] == [204]  # cut, with a hash
    (tmp_path / "a-file").write_text("")
    code, out = cli(capsys, "data", "synth", "--out", str(tmp_path / "a-file"))
    assert code == 2 and f"--out {tmp_path / 'a-file'} is a file, not a folder" in out
