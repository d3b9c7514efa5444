"""Check a suite's runs against the registries: datasets, models (+ options), protocols (+ options).

This imports the model registry (torch, open_clip: a few seconds), so commands call it only
when runs are about to execute, on ``--dry-run`` and in ``omnibench validate``. Errors point
at the suite line that set the offending value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from omnibench.config.protocols import PROTOCOLS
from omnibench.config.spec import RunSpec, SpecError, validate_options
from omnibench.data import DATASETS
from omnibench.data.roots import config_path, load_config
from omnibench.errors import OmniBenchError
from omnibench.models import DECLARED, model_options_class
from omnibench.models.weights import check_statement
from omnibench.registry import did_you_mean
from omnibench.report.pooling import check_cells
from omnibench.suite.load import Suite
from omnibench.suite.paths import SuiteError, spec_error


def known_datasets() -> list[str]:
    """Registered dataset adapters plus the names declared in the user's datasets.yaml."""
    return sorted({*DATASETS.names(), *load_config()})


def check_suite(
    suite: Suite, specs: Iterable[RunSpec] | None = None, *, require_data: bool = True
) -> None:
    """Raise a ``file:line`` :class:`SuiteError` for the first invalid name or option, or a table
    whose cells would average runs of different settings (``report.pooling.check_cells``).

    With ``require_data=False`` (``omnibench validate``) the suite's ``external_datasets`` pass
    even when this machine's datasets.yaml does not declare them yet.
    """

    datasets = known_datasets() + ([] if require_data else list(suite.external_datasets))
    try:
        check_cells(suite.table, [spec.plain() for spec in suite.specs], suite.name)
    except OmniBenchError as err:
        raise SuiteError(f"{suite.path}: {err}") from None
    for spec in suite.specs if specs is None else specs:
        for path, dataset in spec.dataset_fields():
            _name(suite, spec, path, dataset, datasets)
        _name(suite, spec, "model.name", spec.model.name, DECLARED.names())
        _name(suite, spec, "protocol", spec.protocol, PROTOCOLS.names())
        _options(
            suite, spec, "model.options", model_options_class(spec.model.name), spec.model.options
        )
        _options(
            suite,
            spec,
            "protocol_options",
            PROTOCOLS.get(spec.protocol).options,
            spec.protocol_options,
        )
        _weights(suite, spec)


def _weights(suite: Suite, spec: RunSpec) -> None:
    """A local state dict whose blocks' activation is neither declared nor stated fails here, not in
    the job."""

    try:
        check_statement(
            spec.model.backbone, spec.model.pretrained, spec.model.options.get("activation")
        )
    except OmniBenchError as err:
        raise SuiteError(f"{suite.where(spec, 'model.pretrained')}: {err}") from None


def _name(suite: Suite, spec: RunSpec, path: str, value: object, known: list[str]) -> None:
    if value in known:
        return
    kind = path.split(".")[0].replace("_", " ")
    kind = "dataset" if "targets" in path else kind
    run = ", ".join(f"{k}={v}" for k, v in suite.labels(spec).items())
    hint = ""
    if kind == "dataset":
        wanted = suite.external_datasets.get(str(value), "{format: list, root: DIR}")
        hint = f"; declare other datasets in {config_path()}, e.g. {value}: {wanted}"
    raise SuiteError(
        (
            f"{suite.where(spec, path)}: {path}: unknown {kind} "
            f"'{value}'{did_you_mean(str(value), known)}; "
            f"known: {', '.join(known)}{hint}"
        )
        + (f" (run {run})" if run else "")
    )


def undeclared_datasets(suite: Suite) -> dict[str, str]:
    """The suite's ``external_datasets`` that this machine has not declared yet."""
    known = set(known_datasets())
    return {name: text for name, text in suite.external_datasets.items() if name not in known}


def _options(suite: Suite, spec: RunSpec, path: str, options_cls: type, options: object) -> None:
    try:
        validate_options(options_cls, options, str(suite.path))  # type: ignore[arg-type]
    except SpecError as err:
        file = str(suite.path)
        rest = str(err)[len(file) + 2 :] if str(err).startswith(file + ": ") else str(err)
        origins = suite.origins.get(spec.run_id(), {})
        raise spec_error(
            f"{file}: {_qualify(rest, path)}", file, origins, suite.labels(spec)
        ) from None


def _qualify(message: str, path: str) -> str:
    """Prefix the options key in an options-class error with its spec path."""
    if message.startswith("unknown key '"):
        return message.replace("unknown key '", f"unknown key '{path}.", 1)
    if message.startswith(path + ".") or message.startswith(path + ":"):
        return message
    if re.match(r"[A-Za-z_][\w.]*: ", message):
        return f"{path}.{message}"
    return f"{path}: {message}"
