"""`omnibench run | ablate | validate | ls suites | ls models`: suites and executing their runs.

Store-only paths (a finished suite, ``status``, ``ls runs``) import no torch; validating
names against the model / protocol registries happens only when runs will execute.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from omnibench.cli import checks, run_groups
from omnibench.cli import run_tables as tables
from omnibench.cli.options import (
    LAUNCH_DEFAULTS,
    RUNTIME_DEFAULTS,
    DataRoot,
    Decoder,
    Device,
    Force,
    Limit,
    Results,
    Settings,
    Workers,
    suite_settings,
)
from omnibench.cli.suite_progress import SuiteProgress, run_labels
from omnibench.config.runtime import Executor, LaunchOptions, RuntimeOptions
from omnibench.errors import NoSpaceError, OmniBenchError
from omnibench.execution.plan import PlannedRun, plan_runs, select_runs
from omnibench.process import Terminated
from omnibench.registry import did_you_mean
from omnibench.store.run_store import RunStore
from omnibench.store.states import RunState
from omnibench.store.tb_events import require_tensorboard
from omnibench.suite.files import suite_files
from omnibench.suite.load import Suite, check_source, load_suite, remember_source
from omnibench.suite.paths import Leaves

app = typer.Typer()
ls_app = typer.Typer(help="List suites, models or stored runs.", no_args_is_help=True)
app.add_typer(ls_app, name="ls")
console = Console(highlight=False)
ABLATIONS = ("modules", "ratio", "prompt", "location", "combination")


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _shots(values: list[str] | None) -> list[int]:
    try:
        return [int(k) for k in _split(values)]
    except ValueError:
        raise OmniBenchError(
            f"--shots takes whole numbers, got {', '.join(_split(values))}"
        ) from None


Datasets = Annotated[
    list[str] | None,
    typer.Option("--dataset", "-d", help="Only runs on this dataset (repeat or comma-separate)."),
]
ExecutorOpt = Annotated[
    Executor,
    typer.Option(
        "--executor", "-e", help="inline (this process), local (parallel processes) or slurm."
    ),
]
Profile = Annotated[
    str | None, typer.Option("--profile", help="Slurm resource profile (slurm/<name>.yaml).")
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Print the expanded runs and what would be skipped; run nothing."
    ),
]
TensorBoard = Annotated[
    bool,
    typer.Option(
        "--tensorboard",
        help=(
            "Also log TensorBoard events in each run's folder (tensorboard --logdir "
            "results/SUITE); needs pip install 'omnibench[tensorboard]'."
        ),
    ),
]
MaxParallel = Annotated[
    int,
    typer.Option(
        "--max-parallel",
        min=0,
        help=(
            "Runs executing at once: local processes / Slurm array "
            "tasks (0: the profile's limit, or half the CPUs)."
        ),
    ),
]


@app.command()
def run(
    suite: Annotated[
        str, typer.Argument(help="Suite name (omnibench ls suites) or a suite YAML file.")
    ],
    dataset: Datasets = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Only runs of this model.")
    ] = None,
    shots: Annotated[
        list[str] | None, typer.Option("--shots", "-k", help="Only few-shot runs with K shots.")
    ] = None,
    executor: ExecutorOpt = LAUNCH_DEFAULTS.executor,
    profile: Profile = LAUNCH_DEFAULTS.profile,
    dry_run: DryRun = False,
    force: Force = False,
    settings: Settings = None,
    limit: Limit = None,
    results: Results = None,
    data_root: DataRoot = RUNTIME_DEFAULTS.data_root,
    workers: Workers = RUNTIME_DEFAULTS.workers,
    device: Device = RUNTIME_DEFAULTS.device,
    max_parallel: MaxParallel = LAUNCH_DEFAULTS.max_parallel,
    decoder: Decoder = RUNTIME_DEFAULTS.decoder,
    tensorboard: TensorBoard = RUNTIME_DEFAULTS.tensorboard,
) -> None:
    """Run a suite: finished runs are skipped, interrupted or failed ones resume."""
    filters: dict[str, list[Any]] = {
        "--dataset": _split(dataset),
        "--model": _split(model),
        "--shots": _shots(shots),
    }
    options = _options(
        executor, profile, data_root, (workers, decoder), device, max_parallel, tensorboard
    )
    _run(
        suite, filters, RunStore(results), dry_run, force, options, suite_settings(settings, limit)
    )


@app.command()
def ablate(
    study: Annotated[
        str,
        typer.Argument(
            help="modules | ratio | prompt | location | combination (OmniCLIP Tables 7-11)."
        ),
    ],
    dataset: Datasets = None,
    executor: ExecutorOpt = LAUNCH_DEFAULTS.executor,
    profile: Profile = LAUNCH_DEFAULTS.profile,
    dry_run: DryRun = False,
    force: Force = False,
    settings: Settings = None,
    limit: Limit = None,
    results: Results = None,
    data_root: DataRoot = RUNTIME_DEFAULTS.data_root,
    workers: Workers = RUNTIME_DEFAULTS.workers,
    device: Device = RUNTIME_DEFAULTS.device,
    max_parallel: MaxParallel = LAUNCH_DEFAULTS.max_parallel,
    decoder: Decoder = RUNTIME_DEFAULTS.decoder,
    tensorboard: TensorBoard = RUNTIME_DEFAULTS.tensorboard,
) -> None:
    """Run one OmniCLIP ablation suite (suites/ablation-STUDY.yaml)."""
    if study not in ABLATIONS:
        raise OmniBenchError(
            f"unknown ablation '{study}'{did_you_mean(study, list(ABLATIONS))}; "
            f"one of {', '.join(ABLATIONS)}"
        )
    options = _options(
        executor, profile, data_root, (workers, decoder), device, max_parallel, tensorboard
    )
    _run(
        f"ablation-{study}",
        {"--dataset": _split(dataset)},
        RunStore(results),
        dry_run,
        force,
        options,
        suite_settings(settings, limit),
    )


def _options(
    executor: Executor,
    profile: str | None,
    data_root: Path | None,
    loader: tuple[int, str],
    device: str,
    max_parallel: int,
    tensorboard: bool = False,
) -> LaunchOptions:
    """``loader``: worker processes and decoder."""
    workers, decoder = loader
    if tensorboard:
        require_tensorboard()
    runtime = RuntimeOptions(
        device=device,
        workers=workers,
        data_root=data_root,
        decoder=decoder,
        tensorboard=tensorboard,
    )  # checks device and decoder
    return LaunchOptions(executor, runtime, profile, max_parallel)


def _run(
    name: str,
    filters: dict[str, list],
    store: RunStore,
    dry_run: bool,
    force: bool,
    options: LaunchOptions,
    settings: Leaves,
) -> None:
    suite = load_suite(name, settings, store)
    check_source(suite)  # a dry run refuses what the run would refuse
    plans = plan_runs(suite.name, select_runs(suite, filters), store, force)
    todo = [p for p in plans if p.executes]
    findings, undeclared = checks.check_runs(suite, [p.spec for p in todo], options, dry_run)
    unwritable = store.write_problem(suite.name, [p.run_id for p in todo]) if todo else None
    if unwritable is not None and not dry_run:
        raise OmniBenchError(unwritable)
    findings += checks.store_findings(unwritable)
    if dry_run:
        marks = {p.run_id: checks.undeclared_mark(p.spec, undeclared) for p in plans}
        title = f"{suite.name}: {tables.plural(len(plans), 'run')} (dry run)"
        noted = {k: v for k, v in marks.items() if v}
        many = run_groups.grouped(len(plans))
        if many:
            table = run_groups.plan_table(suite, plans, f"{title}, by table cell", noted)
        else:
            table = tables.plan_table(suite, plans, title, noted)
        tables.print_table(console, table)
        notes = tables.plan_notes(store, suite, plans, run_groups.MAX_NOTES if many else None)
        for line in [*tables.settings_lines(suite.settings), *notes]:
            console.print(line, soft_wrap=True)
        console.print(
            f"{len(todo)} would execute, {len(plans) - len(todo)} skipped; results in {store.root}"
        )
    checks.print_findings(findings, undeclared)
    errors = sum(finding.error for finding in findings)
    if errors:
        console.print(
            f"{tables.plural(errors, 'problem')} would stop these runs"
            + ("" if dry_run else "; nothing ran")
        )
        raise typer.Exit(2)
    if not dry_run:
        if todo:
            store.ensure_writable()
        _execute_and_summarize(suite, plans, todo, store, options)


def _execute_and_summarize(
    suite: Suite,
    plans: list[PlannedRun],
    todo: list[PlannedRun],
    store: RunStore,
    options: LaunchOptions,
) -> None:
    """Execute ``todo``, then print every selected run; exit 1 if any failed (130 on Ctrl-C, 143 on
    SIGTERM)."""
    try:
        if todo:
            _execute(suite, todo, store, options)
    except (KeyboardInterrupt, Terminated) as stop:
        _summarize(suite, plans, store)
        raise typer.Exit(143 if isinstance(stop, Terminated) else 130) from None
    except NoSpaceError:  # the runs' true states, then the disk (one line, exit 2)
        _summarize(suite, plans, store)
        raise
    final = _summarize(suite, plans, store, again=bool(todo))
    if not todo:
        console.print(
            "nothing to execute: every selected run is done, queued, held or corrupt "
            "(--force reruns)",
            soft_wrap=True,
        )
    if any(p.state in (RunState.FAILED, RunState.DEAD, RunState.CORRUPT) for p in final):
        raise typer.Exit(1)


def _summarize(
    suite: Suite, plans: list[PlannedRun], store: RunStore, again: bool = True
) -> list[PlannedRun]:
    """Print every selected run's state, job and top-1, then the failures and logs; return the fresh
    states (``again``: read the store again; else ``plans`` are fresh)."""
    final = plan_runs(suite.name, [p.spec for p in plans], store) if again else plans
    run_groups.print_runs(console, suite, final, store)
    return final


def _execute(suite: Suite, todo: list[PlannedRun], store: RunStore, options: LaunchOptions) -> None:
    from omnibench.execution.launch import launch_plans  # noqa: PLC0415

    remember_source(store, suite)
    labels = run_labels([(p.run_id, suite.labels(p.spec)) for p in todo])
    with SuiteProgress(store, suite.name, labels).watching() as progress:
        launch_plans(suite.name, todo, store, options, watch=progress.poll)


@ls_app.command("suites")
def ls_suites() -> None:
    """Every suite: runs, the paper table it feeds, description."""
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="suites", title_justify="left")
    for column in ("suite", "runs", "table", "description"):
        table.add_column(column)
    for name in suite_files():
        suite = load_suite(name)
        table.add_row(
            suite.name, str(len(suite.specs)), suite.table.paper_table or "–", suite.description
        )
    console.print(table)


@ls_app.command("models")
def ls_models() -> None:
    """Registered models and their options."""
    from rich.table import Table  # noqa: PLC0415

    # declarations: no torch
    from omnibench.models import describe_models, model_options_class  # noqa: PLC0415

    table = Table(title="models", title_justify="left")
    for column in ("model", "description", "options (model.options.*)"):
        table.add_column(column, overflow="fold")
    for name, description in describe_models():
        fields = dataclasses.fields(model_options_class(name))
        options = ", ".join(f"{f.name}={_default(f)}" for f in fields)
        table.add_row(name, description, options)
    console.print(table)


def _default(field: dataclasses.Field[object]) -> str:
    if field.default is not dataclasses.MISSING:
        return repr(field.default)
    return (
        repr(field.default_factory())
        if field.default_factory is not dataclasses.MISSING
        else "required"
    )
