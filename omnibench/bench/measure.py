"""Measurement primitives: median wall time, peak memory, device peak FLOP/s, machine facts.

Timings synchronise the device around each repeat, exclude warm-up repeats and report the
median. Peak memory is ``torch.cuda.max_memory_allocated`` on CUDA and the process RSS
high-water mark on CPU (``VmHWM``, reset per measurement through ``/proc/self/clear_refs``
where the kernel allows it, else ``getrusage``, which never resets).
"""

from __future__ import annotations

import os
import platform
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

# Dense (non-sparse) tensor-core peaks in TFLOP/s from NVIDIA's datasheets; fp32 is the
# non-tensor-core rate (PyTorch keeps TF32 matmul off by default). First match wins.
DEVICE_PEAKS: tuple[tuple[str, dict[str, float]], ...] = (
    (r"H100.*PCIe", {"bf16": 756.0, "fp16": 756.0, "fp32": 51.0}),
    (r"H100.*NVL", {"bf16": 835.0, "fp16": 835.0, "fp32": 60.0}),
    (r"H100|GH200", {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0}),
    (r"H200", {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0}),
    (r"A100", {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5}),
    (r"L40S", {"bf16": 362.0, "fp16": 362.0, "fp32": 91.6}),
    (r"\bL4\b", {"bf16": 121.0, "fp16": 121.0, "fp32": 30.3}),
    (r"\bA10\b", {"bf16": 125.0, "fp16": 125.0, "fp32": 31.2}),
    (r"V100", {"fp16": 125.0, "fp32": 15.7}),
)
_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def device_peak_tflops(device_name: str, dtype: str) -> float | None:
    """The datasheet dense peak of ``device_name`` at ``dtype`` in TFLOP/s, or None if unknown."""
    for pattern, peaks in DEVICE_PEAKS:
        if re.search(pattern, device_name):
            return peaks.get(dtype)
    return None


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(
    fn: Callable[[], object], device: torch.device, repeats: int, warmup: int
) -> float:
    """Median wall time of ``fn()`` over ``repeats`` timed calls after ``warmup`` untimed ones."""
    return interleaved_median_seconds([fn], device, repeats, warmup)[0]


def interleaved_median_seconds(
    fns: Sequence[Callable[[], object]], device: torch.device, repeats: int, warmup: int
) -> list[float]:
    """Median wall time of each of ``fns``, timed in turn within every repeat.

    Alternating the calls exposes all of them alike to drift in the machine's load, so their
    ratio holds better than that of medians taken one after the other.
    """
    for _ in range(warmup):
        for fn in fns:
            fn()
    synchronize(device)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, fn_times in zip(fns, times):
            start = time.perf_counter()
            fn()
            synchronize(device)
            fn_times.append(time.perf_counter() - start)
    return [statistics.median(fn_times) for fn_times in times]


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory window on ``device``."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:  # "5" resets the RSS high-water mark (Linux >= 4.0)
        _CLEAR_REFS.write_text("5")
    except OSError:
        pass


def peak_memory_mib(device: torch.device) -> float:
    """Peak memory since :func:`reset_peak_memory`: CUDA max allocated, or process RSS
    high-water."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    match = re.search(r"^VmHWM:\s+(\d+) kB", _read(_STATUS), re.MULTILINE)
    if match:
        return int(match.group(1)) / 1024
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return max_rss / 2**20 if sys.platform == "darwin" else max_rss / 1024


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def memory_kind(device: torch.device) -> str:
    """What :func:`peak_memory_mib` measures on ``device``, for table headers."""
    return "CUDA max allocated" if device.type == "cuda" else "process RSS high-water"


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo), or ``platform.processor()``."""
    match = re.search(r"^model name\s*:\s*(.+)$", _read(Path("/proc/cpuinfo")), re.MULTILINE)
    return match.group(1).strip() if match else (platform.processor() or platform.machine())


def machine_info(device: torch.device) -> dict[str, Any]:
    """Facts that make a benchmark table reproducible: host, CPU, threads, load, GPU, versions."""
    info: dict[str, Any] = {
        "host": platform.node(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": None,
        "cuda": torch.version.cuda,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
