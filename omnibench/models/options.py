"""Options shared by every model (each model's dataclass extends :class:`ModelOptions`), the
papers' class-name templates and the multi-view test setting. Imports no torch."""

from __future__ import annotations

import dataclasses

from omnibench.config.spec import SpecError
from omnibench.registry import did_you_mean

ACTIVATIONS = ("quick_gelu", "gelu")  # of the backbone's blocks (omnibench.models.weights)

OMNICLIP_TEMPLATE = "A video of {} action"  # OmniCLIP §3.1, as written (no full stop)
XCLIP_TEMPLATE = "{}"  # X-CLIP §3.3: the bare label, prompts are learned
VIFI_TEMPLATE = "a photo of a {}."  # ViFi-CLIP appendix B, also CLIP's zero-shot template
MULTI_VIEW = {"test_clips": 4, "test_crops": 3}  # 4 temporal x 3 spatial views (supervised tables)


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """``input_size``: frame resolution (None: the backbone's own); ``template``: class-name prompt;
    ``activation``: the backbone blocks' activation where the weights do not say it
    (``quick_gelu`` for OpenAI's CLIP, ``gelu``; see :mod:`omnibench.models.weights`)."""

    input_size: int | None = None
    template: str = "a photo of a {}."
    activation: str | None = None

    def __post_init__(self) -> None:
        require(self.input_size is None or self.input_size >= 8, "input_size", "must be >= 8")
        require("{}" in self.template, "template", "must contain '{}' for the class name")
        if self.activation is not None:
            require_choice(self.activation, ACTIVATIONS, "activation")


def require(ok: bool, key: str, message: str) -> None:
    """Raise a :class:`SpecError` naming option ``key`` unless ``ok``."""
    if not ok:
        raise SpecError(f"{key}: {message}")


def require_choice(value: str, choices: tuple[str, ...], key: str) -> None:
    """``value`` must be one of ``choices`` (did-you-mean otherwise)."""
    if value not in choices:
        raise SpecError(
            f"{key}: '{value}' is not one of "
            f"{', '.join(choices)}{did_you_mean(value, list(choices))}"
        )
