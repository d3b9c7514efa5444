"""Where datasets live.

Precedence, highest first:

1. ``--data-root DIR`` (``RuntimeOptions.data_root``): the dataset is ``DIR/<dataset>``;
2. ``OMNIBENCH_DATA=DIR``: the dataset is ``DIR/<dataset>``;
3. the user file ``~/.config/omnibench/datasets.yaml`` (``$XDG_CONFIG_HOME`` honoured,
   or the file named by ``OMNIBENCH_DATASETS_CONFIG``)::

       hmdb51: /data/hmdb51                  # the dataset's root
       ucf101: {root: /data/ucf101/annotations, videos: /data/ucf101/UCF-101}
       hmdb51-vifi: {format: list, root: /data/vifi/hmdb_splits, videos: /data/hmdb51/all}

   ``format`` declares a new dataset name read with a registered adapter (here the
   generic list format);
4. for ``synthetic`` only: ``~/.cache/omnibench/data/synthetic`` (generated on first use).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from omnibench.errors import OmniBenchError

DATA_ENV = "OMNIBENCH_DATA"
CONFIG_ENV = "OMNIBENCH_DATASETS_CONFIG"
CONFIG_KEYS = {"root", "videos", "format"}


@dataclasses.dataclass(frozen=True)
class DataLocation:
    """A dataset's root, optional separate video folder, the setting that chose it, and its
    format."""

    root: Path
    videos: Path | None = None
    setting: str = "the root argument"
    format: str | None = None


def config_path() -> Path:
    """The user's datasets.yaml."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "omnibench" / "datasets.yaml"


def _entry(name: str, value: Any, path: Path) -> DataLocation:
    setting = f"'{name}:' in {path}"
    if isinstance(value, str):
        return DataLocation(Path(value).expanduser(), None, setting)
    if not isinstance(value, dict) or "root" not in value or set(value) - CONFIG_KEYS:
        raise OmniBenchError(
            f"{path}: entry '{name}' must be a path or a mapping with keys root[, videos, format]"
        )
    videos = Path(value["videos"]).expanduser() if value.get("videos") else None
    return DataLocation(Path(str(value["root"])).expanduser(), videos, setting, value.get("format"))


def load_config() -> dict[str, DataLocation]:
    """Entries of the user's datasets.yaml (empty when the file does not exist)."""
    from omnibench.config.yaml_lines import load_yaml  # noqa: PLC0415

    path = config_path()
    if not path.is_file():
        return {}
    data = load_yaml(path).data or {}
    if not isinstance(data, dict):
        raise OmniBenchError(f"{path}: expected a mapping of dataset name to root")
    return {str(name): _entry(str(name), value, path) for name, value in data.items()}


SYNTHETIC_DATASETS = ("synthetic", "synthetic-directions")
DEFAULT_SYNTHETIC_SETTING = "the default synthetic root"


def default_synthetic_root(name: str = "synthetic") -> Path:
    """``~/.cache/omnibench/data/<name>`` (``$XDG_CACHE_HOME`` honoured)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "omnibench" / "data" / name


def locate(dataset: str, override: Path | None = None) -> DataLocation:
    """Where ``dataset`` lives according to --data-root, OMNIBENCH_DATA and datasets.yaml."""
    entry = load_config().get(dataset)
    fmt = entry.format if entry else None
    if override is not None:
        return DataLocation(Path(override).expanduser() / dataset, None, "--data-root", fmt)
    if os.environ.get(DATA_ENV):
        return DataLocation(Path(os.environ[DATA_ENV]).expanduser() / dataset, None, DATA_ENV, fmt)
    if entry is not None:
        return entry
    if dataset in SYNTHETIC_DATASETS:
        return DataLocation(default_synthetic_root(dataset), None, DEFAULT_SYNTHETIC_SETTING)
    raise OmniBenchError(
        f"no data root for dataset '{dataset}': pass --data-root DIR (holding {dataset}/), "
        f"set {DATA_ENV}=DIR, or add '{dataset}: /path' to {config_path()}"
    )


def resolve_root(dataset: str, override: Path | None = None) -> Path:
    """The root folder of ``dataset`` (see :func:`locate`)."""
    return locate(dataset, override).root


def require_dir(path: Path, what: str, setting: str) -> Path:
    """``path`` if it is a folder, else a one-line error naming it and the setting to change."""
    if not path.is_dir():
        raise OmniBenchError(f"{what} not found: {path} (change {setting})")
    return path


def check_location(dataset: str, location: DataLocation) -> None:
    """A one-line error when ``dataset`` cannot be read at ``location``: the data root given by
    --data-root or $OMNIBENCH_DATA is missing (a typo), or the dataset's folder is. The synthetic
    benchmark is generated on first use, but only into a folder that exists (or its default
    root)."""
    if location.setting in ("--data-root", DATA_ENV):
        require_dir(location.root.parent, "data root", location.setting)
    if dataset not in SYNTHETIC_DATASETS:
        require_dir(location.root, f"data root of '{dataset}'", location.setting)
    elif location.setting != DEFAULT_SYNTHETIC_SETTING and not location.root.is_dir():
        require_dir(
            location.root.parent,
            f"folder to generate the '{dataset}' benchmark in",
            location.setting,
        )
