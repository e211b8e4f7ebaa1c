"""CUDA when present, CPU otherwise; the choice is always shown to the user."""

from __future__ import annotations

import torch

from .errors import CneepError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise CneepError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from e
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or (device.index or 0) >= torch.cuda.device_count()):
        raise CneepError(f"device {name!r} requested but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    if device.type not in ("cpu", "cuda"):
        raise CneepError(f"device {name!r} is not supported (use auto, cpu, cuda or cuda:N)")
    return device


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'s' if n > 1 else ''})"


def cpu_threads() -> int:
    """Threads torch uses on the CPU."""
    return torch.get_num_threads()


def set_cpu_threads(n: int) -> None:
    torch.set_num_threads(n)


def warm_up() -> None:
    """Creating the first torch optimiser imports ~800 modules (about a second, holding the GIL): an app does it
    before its window shows, not in the middle of the first training, where it would freeze the window."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def available_devices() -> list[tuple[str, str]]:
    """(value, label) pairs for a device picker: auto, cpu, then each GPU by name."""
    gpus = [(f"cuda:{i}", f"cuda:{i} ({torch.cuda.get_device_name(i)})")
            for i in range(torch.cuda.device_count())]
    return [("auto", "auto"), ("cpu", "cpu")] + gpus
