"""Run specifications: one frozen, validated spec per run; its hash is its identity.

A spec is plain data (nested frozen dataclasses). ``RunSpec.from_dict`` rejects unknown
keys with a did-you-mean and bad values with the key path, so a suite file fails at load,
not hours into a Slurm job. Model- and protocol-specific switches live in
``model.options`` and ``protocol_options``; they are validated by the options dataclass
that the model / protocol registers (see :func:`validate_options`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from omnibench.errors import OmniBenchError
from omnibench.registry import did_you_mean

NORMALIZATIONS = ("clip", "imagenet")
AUGMENTS = ("fused", "stepwise")  # omnibench's fast training augmentation, or the official op by op
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SEED_END = 2**63  # seeds are in [0, SEED_END)
DEFAULT_MAX_SKIPPED = 0.01  # share of a split's videos that may be skipped as broken
_PLAIN = "_plain_form"  # where a spec keeps its plain data (see _plain)
_SCALARS = (str, int, float, bool, type(None))


class SpecError(OmniBenchError):
    """A spec value or key is invalid; the message names the file and key."""


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(mapping or {}))


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Which model to build: registry name, open_clip backbone, weights, model switches."""

    name: str = "omniclip"
    backbone: str = "ViT-B-16"
    pretrained: str | None = (
        "openai"  # open_clip tag, a local checkpoint path, or None (random init)
    )
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _frozen(self.options))


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """Clip sampling and pre-processing."""

    frames: int = 8
    input_size: int = 224
    short_side: int = 256
    normalization: str = "clip"  # X-CLIP / ViFi-CLIP used "imagenet"
    test_clips: int = 1
    test_crops: int = 1
    hflip: bool | None = None  # training flips: None = the dataset's own (all but synthetic ones)
    augment: str = "fused"  # "stepwise": X-CLIP's pipeline op by op (omnibench.data.transforms)

    def __post_init__(self) -> None:
        for key in ("frames", "input_size", "short_side", "test_clips"):
            _check(getattr(self, key) >= 1, f"data.{key}", "must be >= 1")
        _check(self.test_crops in (1, 3), "data.test_crops", "must be 1 or 3")
        _check(self.short_side >= self.input_size, "data.short_side", "must be >= data.input_size")
        _check_choice(self.normalization, NORMALIZATIONS, "data.normalization")
        _check_choice(self.augment, AUGMENTS, "data.augment")


@dataclasses.dataclass(frozen=True)
class OptimSpec:
    """Optimisation: AdamW + per-iteration cosine with warmup; mixup/cutmix; precision."""

    epochs: int = 30
    batch_size: int = 8  # effective batch per optimiser step, summed over devices
    batch_per_device: int | None = None  # None: the whole batch fits; else gradient accumulation
    lr: float = 8e-6
    min_lr: float | None = None  # None: lr / 100
    warmup_epochs: float = 5.0
    weight_decay: float = 0.001
    new_module_lr_mult: float = 1.0  # X-CLIP: 10 for its new modules
    label_smoothing: float = 0.1
    mixup: float = 0.8
    cutmix: float = 1.0
    mixup_switch_prob: float = 0.5
    precision: str = "auto"  # auto: bf16 on CUDA, fp32 on CPU
    grad_checkpointing: bool = False
    checkpoint_every: int = 0  # iterations between checkpoints; 0 = once per epoch

    def __post_init__(self) -> None:
        _check(self.epochs >= 0, "optim.epochs", "must be >= 0")
        _check(self.batch_size >= 1, "optim.batch_size", "must be >= 1")
        per_device = self.batch_per_device
        _check(per_device is None or per_device >= 1, "optim.batch_per_device", "must be >= 1")
        _check(self.lr > 0, "optim.lr", "must be > 0")
        _check(
            self.min_lr is None or 0 <= self.min_lr <= self.lr, "optim.min_lr", "must be in [0, lr]"
        )
        _check(self.warmup_epochs >= 0, "optim.warmup_epochs", "must be >= 0")
        _check(0 <= self.label_smoothing < 1, "optim.label_smoothing", "must be in [0, 1)")
        for key in ("weight_decay", "new_module_lr_mult", "mixup", "cutmix", "checkpoint_every"):
            _check(getattr(self, key) >= 0, f"optim.{key}", "must be >= 0")
        _check(0 <= self.mixup_switch_prob <= 1, "optim.mixup_switch_prob", "must be in [0, 1]")
        _check_choice(self.precision, PRECISIONS, "optim.precision")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """Everything that determines one run's result. ``run_id`` hashes it."""

    protocol: str
    dataset: str
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    optim: OptimSpec = dataclasses.field(default_factory=OptimSpec)
    protocol_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 1024  # model / training seed
    data_seed: int = 0  # draws of shots, class subsets, splits
    strict: bool = False  # a broken video fails the run instead of being skipped
    allow_leakage: bool = False  # override of the train/eval overlap guard (recorded)
    limit: int | None = None  # at most this many videos per class of every split (a quick subset)
    max_skipped: float = (
        DEFAULT_MAX_SKIPPED  # larger shares of broken (skipped) videos fail the run
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "protocol_options", _frozen(self.protocol_options))
        _check(
            self.limit is None or (type(self.limit) is int and self.limit >= 1),
            "limit",
            "must be an integer >= 1",
        )
        _check(0 <= self.max_skipped <= 1, "max_skipped", "must be a share in [0, 1]")
        for key in ("seed", "data_seed"):  # what numpy's and torch's generators take
            _check(0 <= getattr(self, key) < SEED_END, key, "must be an integer in [0, 2**63)")

    # A spec is frozen: its canonical JSON and id are computed once (suites of thousands of runs
    # ask for them many times).
    @functools.cached_property
    def _canonical(self) -> str:
        return canonical_json_of(identity(_plain(self)))

    @functools.cached_property
    def _run_id(self) -> str:
        return hashlib.sha256(self._canonical.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field (options as ordinary dicts)."""
        return json.loads(json.dumps(_plain(self)))

    def plain(self) -> Mapping[str, Any]:
        """:meth:`to_dict`'s content without the copy: shared with the spec and the copies made
        from it, to read only (thousands of specs at once: the copies cost more than the rest)."""
        return _plain(self)

    def canonical_json(self) -> str:
        """Canonical JSON text of :func:`identity`: sorted keys, no whitespace; the basis of
        :meth:`run_id`."""
        return self._canonical

    def run_id(self) -> str:
        """A 12-hex-digit hash of the canonical spec: the run's identity in the store."""
        return self._run_id

    def value_at(self, path: str) -> Any:
        """The plain value (as in :meth:`to_dict`) at a dotted spec path; None where there is
        none."""
        node: Any = vars(self).get(_PLAIN) or _plain(self)
        for part in _parts(path):
            node = node.get(part) if type(node) is dict else None
        return json.loads(json.dumps(node)) if isinstance(node, (dict, list)) else node

    def with_value(self, path: str, value: Any) -> RunSpec:
        """A copy with the leaf at ``path`` (a field, or a key of a mapping field) set to
        ``value``, checked as :meth:`from_dict` checks it; SpecError when it does not fit."""
        return _with_value(self, path.split("."), value)

    def dataset_fields(self) -> tuple[tuple[str, str], ...]:
        """``(spec path, dataset)`` of every dataset the run reads: its own, then its zero-shot
        targets."""
        targets = self.protocol_options.get("targets") or ()
        targets = targets if isinstance(targets, (list, tuple)) else (targets,)
        return (
            ("dataset", self.dataset),
            *((f"protocol_options.targets.{i}", t) for i, t in enumerate(targets)),
        )

    def datasets_read(self) -> tuple[str, ...]:
        """Every dataset the run reads (see :meth:`dataset_fields`)."""
        return tuple(name for _, name in self.dataset_fields())

    def input_size_problem(self, model_size: int) -> str | None:
        """Why frames of ``data.input_size`` do not fit a model taking ``model_size`` px (None:
        they do)."""
        size = self.data.input_size
        if size == model_size:
            return None
        return (
            f"data.input_size is {size} but {self.model.name} on '{self.model.backbone}' takes "
            f"{model_size} px frames; set data.input_size to {model_size} or "
            f"model.options.input_size to {size}"
        )

    def replace(self, **changes: Any) -> RunSpec:
        """A copy with top-level fields replaced (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "<spec>") -> RunSpec:
        """Build and validate a spec from plain data; errors name ``where`` and the key."""
        return _build(cls, data, where, prefix="")


# Fields added after runs were first stored (spec paths): at these values they stay out of the
# run's identity, so every run stored before them keeps its id and is found (and judged: a run
# that older code computed is stale, omnibench.store.revisions).
HASH_NEUTRAL: Mapping[str, Any] = types.MappingProxyType(
    {"limit": None, "max_skipped": DEFAULT_MAX_SKIPPED, "data.hflip": None, "data.augment": "fused"}
)

_NEUTRAL_KEYS = tuple((*path.rpartition(".")[::2], v) for path, v in HASH_NEUTRAL.items())


def canonical_json_of(value: Any) -> str:
    """JSON with sorted keys and no whitespace: how a spec's identity is written and hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def identity(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec dict without the :data:`HASH_NEUTRAL` fields that hold their neutral value."""
    out = dict(spec)
    copied: set[str] = set()  # sections already copied (the input is never changed)
    for section, key, neutral in _NEUTRAL_KEYS:
        found = out.get(section) if section else out
        if not isinstance(found, Mapping) or key not in found or found[key] != neutral:
            continue
        holder: dict[str, Any] = out
        if section:
            holder = out[section] if section in copied else dict(found)
            out[section] = holder
            copied.add(section)
        del holder[key]
    return out


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping -> {dotted path: leaf}; an empty mapping is a leaf."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


@functools.lru_cache(maxsize=256)
def _parts(path: str) -> tuple[str, ...]:
    """A dotted spec path's keys (thousands of specs are asked for the same few paths)."""
    return tuple(path.split("."))


def _plain(value: Any) -> Any:
    """Plain data (dicts, lists, scalars) of a spec or a value in it. A spec's is computed once and
    shared by the copies that reuse its parts (:meth:`RunSpec.with_value`): never mutate it."""
    if type(value) in _SCALARS:
        return value
    if hasattr(type(value), "__dataclass_fields__"):
        memo = vars(value)  # a frozen dataclass: its fields never change
        if _PLAIN not in memo:
            memo[_PLAIN] = {f: _plain(getattr(value, f)) for f in _fields(type(value))[1]}
        return memo[_PLAIN]
    if isinstance(value, (dict, types.MappingProxyType, Mapping)):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _with_value(node: Any, parts: list[str], value: Any) -> Any:
    hints, fields = _fields(type(node))
    head, rest = parts[0], parts[1:]
    if head not in fields:
        raise SpecError(f"unknown key '{head}'")
    current = getattr(node, head)
    if not rest:
        new = coerce(value, hints[head], head)
    elif dataclasses.is_dataclass(current):
        new = _with_value(current, rest, value)
    elif isinstance(current, Mapping) and len(rest) == 1:
        new = {**current, rest[0]: value}
    else:
        raise SpecError(f"{'.'.join(parts)}: not a field of the spec")
    changed = dataclasses.replace(node, **{head: new})
    plain = vars(node).get(_PLAIN)
    if plain is not None:  # the copy's plain data: the original's with one field changed
        vars(changed)[_PLAIN] = {**plain, head: _plain(getattr(changed, head))}
    return changed


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise SpecError(f"{key}: {message}")


def _check_choice(value: str, choices: tuple[str, ...], key: str) -> None:
    if value not in choices:
        hint = did_you_mean(str(value), list(choices))
        raise SpecError(f"{key}: '{value}' is not one of {', '.join(choices)}{hint}")


def _fields(cls: Any) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """The resolved type hints and the fields of a dataclass (resolving hints is slow)."""
    return _class_fields(cls)


@functools.cache
def _class_fields(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    return typing.get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls)}


def _build(cls: type, data: Mapping[str, Any], where: str, prefix: str) -> Any:
    """Construct dataclass ``cls`` from ``data``, recursing into nested dataclass fields."""
    if not isinstance(data, Mapping):
        raise SpecError(
            f"{where}: '{prefix.rstrip('.') or 'spec'}' "
            f"must be a mapping, got {type(data).__name__}"
        )
    hints, fields = _fields(cls)
    for key in data:
        if key not in fields:
            raise SpecError(
                f"{where}: unknown key '{prefix}{key}'{did_you_mean(str(key), list(fields))}"
            )
    kwargs = {}
    for key, value in data.items():
        field_type = hints[key]
        if isinstance(field_type, type) and dataclasses.is_dataclass(field_type):
            kwargs[key] = _build(field_type, value, where, prefix=f"{prefix}{key}.")
        else:
            kwargs[key] = coerce(value, field_type, f"{where}: {prefix}{key}")
    try:
        return cls(**kwargs)
    except SpecError as err:
        raise SpecError(
            f"{where}: {prefix}{err}"
            if prefix and not str(err).startswith(prefix)
            else f"{where}: {err}"
        ) from None
    except TypeError as err:
        raise SpecError(f"{where}: {prefix.rstrip('.') or 'spec'}: {err}") from None


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check ``value`` against a simple annotation (int, float, str, bool, X | None, Mapping,
    tuple)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], where)
    if annotation is Any:
        return value
    if origin in (Mapping, dict) or annotation in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise SpecError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(coerce(v, item, where) for v in value)
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):  # .inf passes every bound (lr > 0), .nan none; neither trains
            raise SpecError(f"{where}: must be a finite number, got {value}")
        return float(value)
    if annotation is int and isinstance(value, bool):
        raise SpecError(f"{where}: expected int, got {value!r}")
    if isinstance(annotation, type) and not isinstance(value, annotation):
        raise SpecError(f"{where}: expected {annotation.__name__}, got {value!r}")
    return value


def validate_options(options_cls: type, options: Mapping[str, Any], where: str) -> Any:
    """Validate a model's or protocol's ``options`` mapping against its options dataclass."""
    return _build(options_cls, options, where, prefix="")
