"""Whether runs were measured in a published row's setting, so that a Δ against it means something.

A published number is compared (Δ printed) only with runs that share its setting: protocol,
backbone, pre-trained weights, frames, views, epochs, the dataset's class count and test splits,
and no ``--limit``. The paper's side comes from ``published.yaml`` (row, table, its ``setting`` and
``datasets``) and, for what the papers' tables do not print (frames, views, epochs), from the
paper defaults omnibench runs with (``protocols.defaults``). The runs' side comes from their
records. Anything that differs, or that a run did not record, is named in a footnote instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from omnibench.report.labels import backbone_label, canonical_dataset, pretrained_label
from omnibench.report.published import SETTING, PublishedRow, dataset_facts
from omnibench.suite.defaults import MissingDefaultsError, protocol_defaults

Run = Mapping[str, Any]  # one flat record (``records.flatten``)
SETTING_FIELDS = (
    "protocol",
    "backbone",
    "pretrained",
    "frames",
    "views",
    "epochs",
    "classes",
    "splits",
    "limit",
)
NOT_RECORDED = "not recorded"


def paper_setting(row: PublishedRow, dataset: str | None, model: str | None) -> dict[str, Any]:
    """The setting of ``row``'s numbers on ``dataset`` (canonical), for omnibench model
    ``model``."""
    protocol = row.protocol
    defaults = _defaults(protocol or "", str(dataset or ""), [model, row.model, "omniclip"])
    data, optim = defaults.get("data", {}), defaults.get("optim", {})
    facts = dataset_facts().get(dataset) if dataset is not None else None
    views = row.views or f"{data.get('test_clips', 1)}x{data.get('test_crops', 1)}"
    splits = (
        facts.test_splits
        if facts and row.splits == "all"
        else facts.test_splits[:1]
        if facts
        else None
    )
    return {
        "protocol": protocol,
        "backbone": row.backbone or SETTING["backbone"],
        "pretrained": row.pretraining or SETTING["pretraining"],
        "frames": row.frames or data.get("frames"),
        "views": views.replace("×", "x"),
        "epochs": optim.get("epochs"),
        "classes": facts.classes if facts else None,
        "splits": splits,
        "limit": None,
    }


def _defaults(protocol: str, dataset: str, models: Sequence[str | None]) -> dict[str, Any]:
    """The paper defaults of the first of ``models`` that declares some for ``protocol``."""
    for model in filter(None, models):
        try:
            return protocol_defaults(protocol, dataset, model)
        except MissingDefaultsError:
            continue
    return {}


def _classes(run: Run, dataset: str | None) -> int | None:
    for key, value in run.items():
        if (
            key.startswith("classes_per_dataset.")
            and canonical_dataset(key.split(".", 1)[1]) == dataset
        ):
            return int(value)
    own = canonical_dataset(run.get("dataset")) == dataset and run.get("protocol") in (
        "supervised",
        "few_shot",
    )
    return (
        int(run["num_classes"]) if own and run.get("num_classes") else None
    )  # records before classes_per_dataset


def _splits(run: Run, dataset: str | None) -> tuple[str, ...] | None:
    found = sorted(
        {
            split
            for name, split in run.get("eval_splits") or ()
            if canonical_dataset(name) == dataset
        }
    )
    return tuple(found) or None


def _pretrained(run: Run) -> str:
    """A local file that is a tag's published file (``weights.published_as``) counts as that tag."""
    published = run.get("weights.published_as")
    return pretrained_label(
        published if isinstance(published, str) else run.get("model.pretrained")
    )


# The flat record columns READERS and :func:`differences` read (and those starting with
# RUN_PREFIXES): a table cell keeps only these of its runs.
RUN_FIELDS = (
    "protocol",
    "dataset",
    "model.name",
    "model.backbone",
    "model.pretrained",
    "weights.published_as",
    "data.frames",
    "data.test_clips",
    "data.test_crops",
    "optim.epochs",
    "limit",
    "num_classes",
    "eval_splits",
)
RUN_PREFIXES = ("classes_per_dataset.",)
READERS: dict[str, Callable[[Run, str | None], Any]] = {
    "protocol": lambda run, _: run.get("protocol"),
    "backbone": lambda run, _: backbone_label(str(run.get("model.backbone"))),
    "pretrained": lambda run, _: _pretrained(run),
    "frames": lambda run, _: run.get("data.frames"),
    "views": lambda run, _: f"{run.get('data.test_clips', 1)}x{run.get('data.test_crops', 1)}",
    "epochs": lambda run, _: run.get("optim.epochs"),
    "classes": _classes,
    "splits": _splits,
    "limit": lambda run, _: run.get("limit"),
}


def _shown(field: str, value: Any) -> str:
    if field == "limit":
        return f"at most {value} videos per class (--limit)" if value is not None else "no limit"
    if isinstance(value, tuple):
        return "+".join(map(str, value))
    return str(value)


def differences(row: PublishedRow, dataset: str | None, runs: Sequence[Run]) -> list[str]:
    """What in ``runs`` (one table cell) differs from ``row``'s setting on ``dataset``; empty:
    comparable."""
    if not runs:
        return []
    models = {run.get("model.name") for run in runs}
    paper = paper_setting(row, dataset, models.pop() if len(models) == 1 else None)
    found = []
    for field in SETTING_FIELDS:
        wanted = paper[field]
        if wanted is None and field != "limit":
            continue  # the paper does not say (a class count the paper never gives)
        ours = list(dict.fromkeys(READERS[field](run, dataset) for run in runs))
        if ours == [wanted]:
            continue
        if field == "limit":
            found.append(" / ".join(_shown(field, v) for v in ours))
        else:
            values = "/".join(_shown(field, v) if v is not None else NOT_RECORDED for v in ours)
            found.append(f"{field} {values} (paper {_shown(field, wanted)})")
    return found
