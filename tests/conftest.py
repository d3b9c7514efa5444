"""Shared test settings: offline hub, CPU threads, markers in the JUnit XML, and the reference files
when present."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
TOOLS = ROOT / "tools"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--mutation-selection",
        action="store_true",
        help="run only the test files tools/mutation_selection.py selects (make mutation)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Name each test's markers in the JUnit XML, where .ci/run counts the Slurm tests that
    passed; with ``--mutation-selection``, deselect the test files mutation testing does not run."""
    for item in items:
        if names := sorted({mark.name for mark in item.iter_markers()}):
            item.user_properties.append(("markers", " ".join(names)))
    _fastest_first(items)
    if config.getoption("--mutation-selection"):
        chosen = set(_mutation_selection().selected_tests(ROOT))
        dropped = [i for i in items if str(i.path.relative_to(ROOT)) not in chosen]
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if str(i.path.relative_to(ROOT)) in chosen]


def _fastest_first(items: list[pytest.Item]) -> None:
    """Under mutmut, run a mutant's tests fastest first (its recorded durations): the first
    failure ends the run."""
    stats = Path("mutmut-stats.json")  # mutmut runs pytest in mutants/
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", "") or not stats.is_file():
        return
    durations = json.loads(stats.read_text()).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))


def _mutation_selection() -> Any:
    """tools/mutation_selection.py (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "mutation_selection", TOOLS / "mutation_selection.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A --data-root holding the synthetic benchmark (10 motion classes; 24 train / 8 test videos
    per class).

    Generated once per session; under ``$OMNIBENCH_TEST_DATA`` when set, where it then serves every
    later session too (``make mutation`` runs thousands of short ones).
    """
    from omnibench.data import ensure_synthetic

    base = Path(os.environ.get("OMNIBENCH_TEST_DATA") or tmp_path_factory.getbasetemp())
    ensure_synthetic(base / "synthetic")
    return base


TinyData = Callable[..., Path]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> TinyData:
    """The tests' tiny synthetic benchmark: ``tiny_data(classes=None, videos_per_class=6,
    name="synthetic", into=None)`` is a --data-root holding a private copy (a test may edit it)
    of the synthetic benchmark with ``classes`` (default: the first three motions),
    ``videos_per_class`` each (half in ``train.txt``, the rest over ``test1..3.txt``), 8 frames of
    32 px, as dataset folder ``name`` (under ``into`` when given, else a new folder). Each
    setting is generated once per session; every call copies it (runs of seconds)."""
    from omnibench.data import MOTIONS, SynthConfig, generate_synthetic

    generated: dict[tuple[tuple[str, ...], int], Path] = {}

    def make(
        classes: tuple[str, ...] | None = None,
        videos_per_class: int = 6,
        name: str = "synthetic",
        into: Path | None = None,
    ) -> Path:
        key = (tuple(MOTIONS)[:3] if classes is None else tuple(classes), videos_per_class)
        if key not in generated:
            config = SynthConfig(key[0], videos_per_class, frames=8, size=32)
            source = tmp_path_factory.mktemp("tiny-source") / "synthetic"
            generated[key] = generate_synthetic(source, config)
        root = into if into is not None else tmp_path_factory.mktemp("tiny-data")
        shutil.copytree(generated[key], root / name)
        return root

    return make


@pytest.fixture(scope="session")
def small_data_root(tiny_data: TinyData) -> Path:
    """A --data-root holding a small synthetic benchmark: 3 classes, 6 videos each (``train.txt``
    lists 9, each ``test*.txt`` 3), 8 frames of 32 px: runs that take seconds."""
    return tiny_data()


JUNK = b"\x00not a video" * 64
# Bytes no decoder reads inside a whole MP4 container (an ``ftyp`` box, then a ``moov`` box): the
# pre-training probe passes such a file; a run finds it broken only when it decodes it.
UNDECODABLE_MP4 = (
    b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00"
    + (8 + len(JUNK)).to_bytes(4, "big")
    + b"moov"
    + JUNK
)


def tiny_suite_text(
    name: str,
    *,
    protocol: str = "eval_only",
    model: str = "vanilla_clip",
    columns: str = "seed",
    base: Sequence[str] = (),
    tail: str = "grid:\n  seed: [1]\n",
    title: str | None = None,
    description: str = "tiny runs for the tests",
) -> str:
    """The YAML of a tiny suite: a grid table of top-1 (rows ``model.name``, columns
    ``columns``), a base of one tiny ``model`` (random weights, 4 frames of 32 px) under
    ``protocol`` on the synthetic data, plus the ``base`` lines, then ``tail`` (seeds, grid)."""
    lines = [
        f"name: {name}",
        f"description: {description}",
        f"table: {{paper_table: null, title: {title or name}, layout: grid, rows: [model.name], "
        f"columns: [{columns}], metrics: [top1]}}",
        "base:",
        f"  protocol: {protocol}",
        "  dataset: synthetic",
        f"  model: {{name: {model}, backbone: omnibench-tiny-vit, pretrained: null}}",
        "  data: {frames: 4, input_size: 32, short_side: 32}",
        *(f"  {line}" for line in base),
    ]
    return "\n".join(lines) + "\n" + tail


def write_tiny_suite(
    directory: Path, name: str, seeds: list[int], trains: bool = False, epochs: int = 1
) -> Path:
    """``DIRECTORY/NAME.yaml``: a run per seed of a tiny model on the synthetic data; OmniCLIP
    trained for ``epochs`` when ``trains``, else frozen CLIP evaluated."""
    path = directory / f"{name}.yaml"
    protocol, model = ("supervised", "omniclip") if trains else ("eval_only", "vanilla_clip")
    optim = (
        f"optim: {{epochs: {epochs}, batch_size: 3, warmup_epochs: 0, mixup: 0.0, cutmix: 0.0, "
        "precision: fp32}"
    )
    path.write_text(
        tiny_suite_text(
            name,
            protocol=protocol,
            model=model,
            base=[optim],
            tail=f"grid:\n  seed: {seeds}\n",
            title="tiny",
        )
    )
    return path


def cpu_options(data_root: Path | str) -> list[str]:
    """The options of a test run on this machine: its data root, no loader workers, the CPU."""
    return ["--data-root", str(data_root), "--workers", "0", "--device", "cpu"]


def plant_lock(
    run_dir: Path,
    host: str = "node7",
    pid: int = 4242,
    job_id: str | None = None,
    cluster: str | None = None,
    since: str = "2026-01-05T09:30:00+00:00",
) -> None:
    """A run's ``lock.json`` as a process on ``host`` holds it (another host: omnibench cannot see
    whether it still runs)."""
    lock = {"host": host, "pid": pid, "started": None, "job_id": job_id, "cluster": cluster}
    (run_dir / "lock.json").write_text(json.dumps({**lock, "since": since, "token": "t0"}))


@pytest.fixture(scope="session")
def reference() -> Path:
    """../shared/reference, or skip the test cleanly when it is absent."""
    if not REFERENCE.is_dir():
        pytest.skip(f"reference files not present at {REFERENCE}")
    return REFERENCE


Invoke = Callable[..., tuple[int, str]]


@pytest.fixture()
def cli() -> Invoke:
    """``cli(*args, columns=100, input=None)``: the omnibench CLI through Typer's runner -> (exit
    code, output)."""
    from typer.testing import CliRunner  # noqa: PLC0415

    from omnibench.cli import app  # noqa: PLC0415

    def invoke(
        *args: str,
        columns: int = 100,
        input: str | None = None,  # noqa: A002
    ) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": str(columns)})
        return result.exit_code, result.output

    return invoke


@pytest.fixture(scope="session")
def unprivileged(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A command prefix under which file permissions hold: none for a normal user; as root (CI),
    ``setpriv`` (or ``capsh``) dropping the capabilities that bypass them. Skips cleanly
    otherwise."""
    if os.geteuid() != 0:
        return []
    probe = tmp_path_factory.mktemp("permissions") / "unreadable"
    probe.write_text("secret")
    probe.chmod(0o000)
    candidates = [
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search"],
        ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", 'exec "$0" "$@"'],
    ]
    for prefix in candidates:
        if shutil.which(prefix[0]) is None:
            continue
        if (
            subprocess.run(
                [*prefix, "cat", str(probe)], capture_output=True, check=False
            ).returncode
            != 0
        ):
            return prefix
    pytest.skip("running as root without setpriv or capsh: file permissions cannot be enforced")
