"""`omnibench validate`, and the checks `run` / `ablate` / `eval` make before anything executes.

Names and options are checked against the registries (:mod:`omnibench.checks.suite`), the
environment by :mod:`omnibench.checks.plan` (backbones, weights, frame size, shots, warm-up), the
data roots on this machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from omnibench.cli.options import DataRoot, Limit, Settings, suite_settings
from omnibench.cli.run_tables import plural, short_path
from omnibench.config.runtime import Executor, LaunchOptions
from omnibench.config.spec import RunSpec
from omnibench.errors import OmniBenchError
from omnibench.store.states import RunState
from omnibench.suite.files import suite_files
from omnibench.suite.load import Suite, load_suite
from omnibench.suite.paths import Leaves

if TYPE_CHECKING:  # the checks load numpy and pandas: imported where runs are checked
    from omnibench.checks.plan import Finding
    from omnibench.execution.plan import PlannedRun

app = typer.Typer()
console = Console(highlight=False)


def check_runs(
    suite: Suite, specs: Sequence[RunSpec], options: LaunchOptions, dry_run: bool
) -> tuple[list[Finding], dict[str, str]]:
    """Check the runs about to execute: names (an error raises), then what
    :mod:`omnibench.checks.plan` finds and the data roots. A dry run accepts datasets still to be
    declared and returns them (name -> what to declare)."""
    if not specs:
        return [], {}
    from omnibench.checks.plan import check_plan  # noqa: PLC0415
    from omnibench.checks.suite import check_suite, undeclared_datasets  # noqa: PLC0415

    check_suite(suite, specs, require_data=not dry_run)
    undeclared = undeclared_datasets(suite) if dry_run else {}
    data_root = options.runtime.data_root
    findings = check_plan(specs, suite.where, data_root)
    if (
        options.executor != Executor.SLURM
    ):  # Slurm jobs may see other paths (profile setup) and GPUs
        declared = [spec for spec in specs if not undeclared_mark(spec, undeclared)]
        findings = data_root_findings(declared, data_root) + findings
        if not dry_run:
            from omnibench.engine.distributed import require_device  # noqa: PLC0415

            require_device(options.runtime.device)
    return findings, undeclared


def data_root_findings(specs: Sequence[RunSpec], data_root: Path | None) -> list[Finding]:
    """A dataset the runs read that has no root on this machine, or a data root that does not exist
    (synthetic ones are generated on first use, into an existing folder:
    ``roots.check_location``)."""
    from omnibench.checks.plan import Finding  # noqa: PLC0415
    from omnibench.data.roots import check_location, locate  # noqa: PLC0415

    names = {name for spec in specs for name in spec.datasets_read()}
    findings = []
    for name in sorted(names):
        try:
            check_location(name, locate(name, data_root))
        except OmniBenchError as err:
            findings.append(Finding("data", str(err)))
    return findings


def unfinished_data_findings(plans: Sequence[PlannedRun], data_root: Path) -> list[Finding]:
    """``status`` / ``report --data-root``: what the data roots lack for the runs not done yet, as
    warnings (what ``run`` would refuse)."""
    from omnibench.checks.plan import Finding  # noqa: PLC0415

    todo = [p.spec for p in plans if p.state != RunState.DONE]
    return [Finding(f.where, f.message, error=False) for f in data_root_findings(todo, data_root)]


def store_findings(problem: str | None) -> list[Finding]:
    """A run store folder this user cannot write (``RunStore.write_problem``), as a finding."""
    if problem is None:
        return []
    from omnibench.checks.plan import Finding  # noqa: PLC0415

    return [Finding("data", problem)]


def check_data_roots(specs: Sequence[RunSpec], data_root: Path | None) -> None:
    """Fail once, before any run starts, when a dataset the runs read has no root on this
    machine."""
    for finding in data_root_findings(specs, data_root):
        raise OmniBenchError(finding.message)


def undeclared_mark(spec: RunSpec, undeclared: Mapping[str, str]) -> str:
    """ "declare k400_tiny first" for a run reading a dataset this machine has not declared, else
    ""."""
    names = [name for name in spec.datasets_read() if name in undeclared]
    return f"declare {', '.join(names)} first" if names else ""


def print_findings(
    findings: Sequence[Finding],
    undeclared: Mapping[str, str] = {},  # noqa: B006
) -> None:
    """Errors in red, warnings in yellow, then what to declare; each whole, on its own line."""
    for finding in findings:
        label = "[bold red]error:[/]" if finding.error else "[yellow]warning:[/]"
        where = "" if finding.where == "data" else f"{finding.where}: "
        console.print(f"{label} {where}{finding.message}", soft_wrap=True)
    if undeclared:
        from omnibench.data.roots import config_path  # noqa: PLC0415

        for dataset, wanted in undeclared.items():
            console.print(
                f"    [yellow]to run it[/], declare {dataset} "
                f"in {config_path()}: {dataset}: {wanted}",
                soft_wrap=True,
            )


@app.command()
def validate(
    suites: Annotated[
        list[str] | None, typer.Argument(help="Suite names or files (default: every suite).")
    ] = None,
    settings: Settings = None,
    limit: Limit = None,
    data_root: DataRoot = None,
) -> None:
    """Check suite files: keys, values, names and options, and what would fail on a compute node
    (backbones, weights, frame size, shots per class, warm-up, data roots on this machine)."""
    chosen = suite_settings(settings, limit)
    failed = sum(not _validate(name, chosen, data_root) for name in suites or list(suite_files()))
    if failed:
        raise typer.Exit(2)


def _validate(name: str, settings: Leaves, data_root: Path | None) -> bool:
    """Check one suite (with the command line's settings) and print its line and findings; False
    when it would fail."""
    from omnibench.checks.plan import check_plan  # noqa: PLC0415
    from omnibench.checks.suite import check_suite, undeclared_datasets  # noqa: PLC0415

    try:
        suite = load_suite(name, settings)
        check_suite(suite, require_data=False)
    except OmniBenchError as err:
        console.print(f"[bold red]error:[/] {err}", soft_wrap=True)
        return False
    undeclared = undeclared_datasets(suite)
    declared = [spec for spec in suite.specs if not undeclared_mark(spec, undeclared)]
    findings = data_root_findings(declared, data_root) + check_plan(
        suite.specs, suite.where, data_root
    )
    ok = not any(finding.error for finding in findings)
    table = suite.table.paper_table or "no paper table"
    console.print(
        f"{'[green]ok[/]' if ok else '[bold red]fails[/]'}  "
        f"{suite.name}: {plural(len(suite.specs), 'run')} "
        f"-> {table} ({short_path(suite.path)})",
        soft_wrap=True,
    )
    print_findings(findings, undeclared)
    return ok
