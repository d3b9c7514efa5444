"""`omnibench eval MODEL --dataset D [--split S] [--pretrained FILE | --run RUN]`: one evaluation.

A frozen model (CLIP weights from ``--pretrained``) or a finished run's trained weights (``--run``,
e.g. a model trained on K400 transferred zero-shot to HMDB51) is evaluated on a split. The
evaluation is an ``eval_only`` run like any other: its spec is hashed, it is stored under the
suite ``eval`` with its record, and an identical evaluation is not repeated (``--force`` reruns).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from omnibench.cli.checks import check_data_roots, print_findings
from omnibench.cli.options import (
    RUNTIME_DEFAULTS,
    DataRoot,
    Decoder,
    Device,
    Force,
    Results,
    Settings,
    Workers,
)
from omnibench.cli.status import resolve_run
from omnibench.config.metrics import scores_text
from omnibench.config.runtime import LaunchOptions, RuntimeOptions
from omnibench.config.spec import RunSpec, SpecError
from omnibench.errors import OmniBenchError
from omnibench.execution.plan import PlannedRun, plan_runs
from omnibench.store.run_files import RECORD_FILE
from omnibench.store.run_store import RunStore
from omnibench.store.states import RunState
from omnibench.store.survey import run_state
from omnibench.suite.grid import with_paper_defaults
from omnibench.suite.paths import Leaves, flatten, parse_settings, set_path, unflatten

app = typer.Typer()
console = Console(highlight=False)
EVAL_SUITE = "eval"  # the store folder of one-off evaluations
ORIGIN = "omnibench eval"


@app.command("eval")
def evaluate(
    model: Annotated[
        str,
        typer.Argument(
            help=(
                "Registered model (omnibench ls models), e.g. "
                "vanilla_clip; with --run, that run's model."
            )
        ),
    ],
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", metavar="NAME", help="Dataset to evaluate on.")
    ],
    split: Annotated[
        list[str] | None,
        typer.Option(
            "--split", "-s", metavar="SPLIT", help="Split (repeatable; default: every test split)."
        ),
    ] = None,
    pretrained: Annotated[
        str | None,
        typer.Option(
            "--pretrained",
            metavar="FILE|TAG",
            help="CLIP weights of a frozen model: a local checkpoint file or an open_clip tag.",
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            "-r",
            metavar="RUN",
            help="A finished run in the store (id or unique prefix): evaluate its trained weights.",
        ),
    ] = None,
    backbone: Annotated[
        str | None,
        typer.Option(
            "--backbone",
            "-b",
            metavar="NAME",
            help="open_clip backbone (default ViT-B-16; with --run, the run's).",
        ),
    ] = None,
    frames: Annotated[
        int | None,
        typer.Option(
            "--frames",
            "-t",
            min=1,
            metavar="T",
            help="Frames per view (default: the protocol's; with --run, the run's).",
        ),
    ] = None,
    views: Annotated[
        str | None,
        typer.Option(
            "--views",
            metavar="CLIPSxCROPS",
            help="Test views, e.g. 4x3 (default 1x1; with --run, the run's).",
        ),
    ] = None,
    settings: Settings = None,
    force: Force = False,
    results: Results = None,
    data_root: DataRoot = RUNTIME_DEFAULTS.data_root,
    workers: Workers = RUNTIME_DEFAULTS.workers,
    device: Device = RUNTIME_DEFAULTS.device,
    decoder: Decoder = RUNTIME_DEFAULTS.decoder,
) -> None:
    """Evaluate a frozen model or a finished run's checkpoint on a split; prints top-1 / top-5 \
with the
    views used and stores a record like any run (suite 'eval')."""
    if pretrained is not None and run is not None:
        raise OmniBenchError("eval takes --pretrained FILE or --run RUN, not both")
    RuntimeOptions(device=device, decoder=decoder)  # checks both before any work
    store = RunStore(results)
    source = _source(store, run, model) if run is not None else None
    spec = eval_spec(
        model,
        dataset,
        tuple(split or ()),
        source,
        pretrained,
        backbone,
        frames,
        views,
        parse_settings(settings or []),
    )
    _check_names(spec)
    _check_plan(spec, data_root)
    [plan] = plan_runs(EVAL_SUITE, [spec], store, force)
    if plan.executes:
        from omnibench.engine.distributed import require_device  # noqa: PLC0415  (imports torch)

        check_data_roots([spec], data_root)
        require_device(device)
        store.ensure_writable()
        _execute(store, plan, RuntimeOptions(device, workers, data_root, decoder=decoder))
    _print_result(store, spec, executed=plan.executes)


def _source(store: RunStore, prefix: str, model: str) -> tuple[str | None, dict[str, Any]]:
    """``(suite/run_id whose weights to load, spec)`` of the finished run ``prefix`` names, anywhere
    in the store (an evaluation-only run lends the weights it evaluated: none, or its own
    source's)."""
    suites = sorted({run.suite for run in store.iter_runs() if run.run_id.startswith(prefix)})
    if len(suites) != 1:
        where = (
            f"runs of several suites ({', '.join(suites)}) start"
            if suites
            else f"no run in {store.root} starts"
        )
        raise OmniBenchError(f"--run {prefix}: {where} with it; omnibench ls runs lists them")
    suite = suites[0]
    run_id = resolve_run(store, suite, prefix)
    state = run_state(store, suite, run_id)[0]
    if state != RunState.DONE:
        raise OmniBenchError(
            f"--run {prefix}: run {suite}/{run_id} is {state}, "
            f"not done; omnibench status {suite} --run {run_id}"
        )
    spec = store.read_spec(suite, run_id) or {}
    if spec.get("model", {}).get("name") != model:
        raise OmniBenchError(
            f"--run {prefix}: run {suite}/{run_id} trained "
            f"{spec.get('model', {}).get('name')}, not {model}"
        )
    if spec.get("protocol") == "eval_only":
        return (spec.get("protocol_options") or {}).get("weights_from"), spec
    if not store.has_checkpoint(suite, run_id):
        raise OmniBenchError(
            f"--run {prefix}: run {suite}/{run_id} kept no checkpoint.pt, so its weights are gone"
        )
    return f"{suite}/{run_id}", spec


def _views(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match:
        raise OmniBenchError(f"--views '{text}': expected CLIPSxCROPS, e.g. 4x3 or 1x1")
    return int(match.group(1)), int(match.group(2))


def eval_spec(
    model: str,
    dataset: str,
    splits: tuple[str, ...],
    source: tuple[str | None, dict[str, Any]] | None,
    pretrained: str | None,
    backbone: str | None,
    frames: int | None,
    views: str | None,
    settings: Leaves,
) -> RunSpec:
    """The ``eval_only`` spec: the source run's model, data and seed (or a frozen model), the
    command line's choices over them, the papers' defaults beneath."""
    partial: dict[str, Any] = {
        "protocol": "eval_only",
        "dataset": dataset,
        "model": {"name": model},
        "protocol_options": {"splits": list(splits)} if splits else {},
    }
    if source is not None:
        name, trained = source
        partial.update(model=trained["model"], data=trained["data"], seed=trained["seed"])
        if name is not None:
            partial["protocol_options"]["weights_from"] = name
    leaves: Leaves = {path: (value, ORIGIN) for path, value in flatten(partial).items()}
    clips, crops = _views(views) if views is not None else (None, None)
    chosen = {
        "model.pretrained": (pretrained, "--pretrained"),
        "model.backbone": (backbone, "--backbone"),
        "data.frames": (frames, "--frames"),
        "data.test_clips": (clips, "--views"),
        "data.test_crops": (crops, "--views"),
    }
    given = {path: choice for path, choice in chosen.items() if choice[0] is not None}
    for path, (value, origin) in [*given.items(), *settings.items()]:
        set_path(leaves, path, value, origin)
    try:
        return RunSpec.from_dict(
            unflatten({p: v for p, (v, _) in with_paper_defaults(leaves).items()}), where=ORIGIN
        )
    except SpecError as err:
        raise OmniBenchError(str(err)) from None


def _check_names(spec: RunSpec) -> None:
    """Model, options and dataset names, checked before anything loads (did-you-mean)."""
    from omnibench.checks.suite import known_datasets  # noqa: PLC0415
    from omnibench.config.spec import validate_options  # noqa: PLC0415
    from omnibench.models import MODELS, model_options_class  # noqa: PLC0415  (imports torch)
    from omnibench.protocols import validate_protocol_options  # noqa: PLC0415
    from omnibench.registry import did_you_mean  # noqa: PLC0415

    MODELS.get(spec.model.name)
    validate_options(
        model_options_class(spec.model.name), spec.model.options, f"{ORIGIN}: model.options"
    )
    validate_protocol_options(spec, f"{ORIGIN}: protocol_options")
    known = known_datasets()
    if spec.dataset not in known:
        raise OmniBenchError(
            f"--dataset {spec.dataset}: unknown dataset{did_you_mean(spec.dataset, known)}; "
            f"known: {', '.join(known)}"
        )


def _check_plan(spec: RunSpec, data_root: Path | None) -> None:
    """What would fail once the model loads (backbone, weights, frame size), before anything
    runs."""
    from omnibench.checks.plan import check_plan  # noqa: PLC0415

    findings = check_plan([spec], lambda _spec, path: f"{ORIGIN} ({path})", data_root)
    print_findings(findings)
    if any(finding.error for finding in findings):
        raise typer.Exit(2)


def _execute(store: RunStore, plan: PlannedRun, runtime: RuntimeOptions) -> None:
    from omnibench.execution.launch import launch_plans  # noqa: PLC0415

    launch_plans(EVAL_SUITE, [plan], store, LaunchOptions(runtime=runtime))


def _print_result(store: RunStore, spec: RunSpec, executed: bool) -> None:
    """Top-1 / top-5 per split with the views used; a failure as its one-line error (exit 1)."""
    run_id = spec.run_id()
    record = store.read_record(EVAL_SUITE, run_id)
    if record is None:
        status = store.read_status(EVAL_SUITE, run_id)
        error = status.error if status is not None else "no record written"
        console.print(f"[bold red]eval {run_id} failed:[/] {error}", soft_wrap=True)
        console.print(f"  log: {store.log_path(EVAL_SUITE, run_id)}", soft_wrap=True)
        raise typer.Exit(1)
    data = spec.data
    source = (
        spec.protocol_options.get("weights_from") or f"frozen, pretrained {spec.model.pretrained}"
    )
    console.print(
        f"{spec.model.name} ({spec.model.backbone}; {source}) on {spec.dataset}: "
        f"{data.test_clips} clip(s) x {data.test_crops} crop(s) of {data.frames} frames per video",
        soft_wrap=True,
    )
    for item in record.get("evaluations") or ():
        console.print(
            f"  {item['dataset']}/{item['split']}: {scores_text(item, ('top1', 'top5'))}  "
            f"({item['videos']} videos)"
        )
    reused = "" if executed else " (stored result; --force reruns)"
    console.print(
        f"record: {store.run_dir(EVAL_SUITE, run_id) / RECORD_FILE}{reused}", soft_wrap=True
    )
