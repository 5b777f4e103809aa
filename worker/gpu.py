"""Render device choice: GPU backends in order of preference, CPU fallback that is logged."""

from __future__ import annotations

from typing import Any

# Fastest first; Metal only exists on macOS builds.
GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")


class DeviceError(RuntimeError):
    """--device gpu was asked for but no GPU is usable."""


def _cycles_prefs() -> Any:
    import bpy

    prefs = bpy.context.preferences
    addon = prefs.addons.get("cycles") if prefs else None
    return addon.preferences if addon else None


def find_gpu() -> tuple[str, list[Any]] | None:
    """(backend, GPU devices) of the first backend that has a GPU, or None."""
    prefs = _cycles_prefs()
    if prefs is None:
        return None
    for backend in GPU_BACKENDS:
        try:
            prefs.compute_device_type = backend
        except TypeError:  # backend not compiled into this build
            continue
        try:
            prefs.refresh_devices()
        except Exception:  # a broken driver must not stop a CPU render
            continue
        gpus = [d for d in prefs.devices if d.type == backend]
        if gpus:
            return backend, gpus
    return None


def configure_cycles_device(scene: Any, device: str, log: Any = print) -> str:
    """Set scene.cycles.device for 'auto' | 'gpu' | 'cpu'; return a description of what is used."""
    if device == "cpu":
        scene.cycles.device = "CPU"
        return "CPU"
    found = find_gpu()
    if found is None:
        if device == "gpu":
            raise DeviceError("--device gpu: no OptiX/CUDA/HIP/oneAPI/Metal GPU found "
                              "(use --device auto or cpu)")
        log("no GPU found (OptiX/CUDA/HIP/oneAPI/Metal): rendering on the CPU")
        scene.cycles.device = "CPU"
        return "CPU (no GPU found)"
    backend, gpus = found
    prefs = _cycles_prefs()
    for d in prefs.devices:
        # Only GPU devices: mixing in the CPU slows GPU renders down.
        d.use = d.type == backend
    scene.cycles.device = "GPU"
    return f"GPU {backend}: " + ", ".join(d.name for d in gpus)
