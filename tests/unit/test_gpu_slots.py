"""Local target: each worker slot is pinned to its own GPU (no two workers share one)."""

from __future__ import annotations

from orbitfarm.submitter.targets.local.runner import GpuSlots
from orbitfarm.submitter.targets.local.target import gpu_ids


def test_slots_pin_one_gpu_each_and_are_reused():
    slots = GpuSlots(3, ["0", "1", "2"])
    a, b = slots.take(), slots.take()
    assert (slots.env_for(a), slots.env_for(b)) == ({"CUDA_VISIBLE_DEVICES": "0"},
                                                    {"CUDA_VISIBLE_DEVICES": "1"})
    slots.give_back(a)
    assert slots.take() == a  # the freed GPU is the next one used, not a busy one
    assert slots.env_for(slots.take()) == {"CUDA_VISIBLE_DEVICES": "2"}


def test_more_workers_than_gpus_share_round_robin_and_no_gpus_pins_nothing():
    slots = GpuSlots(4, ["3", "5"])
    assert [slots.env_for(i)["CUDA_VISIBLE_DEVICES"] for i in range(4)] == ["3", "5", "3", "5"]
    assert GpuSlots(2, []).env_for(0) == {}


def test_gpu_ids_honour_an_existing_cuda_visible_devices():
    """Inside a SLURM allocation or a container only the GPUs given to us may be used."""
    assert gpu_ids({"CUDA_VISIBLE_DEVICES": "2, 3"}) == ["2", "3"]
    assert gpu_ids({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert gpu_ids({"CUDA_VISIBLE_DEVICES": "-1"}) == []
