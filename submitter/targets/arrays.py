"""Array jobs: plan task indices cut into arrays whose element ids stay below a size limit.

Shared by every target with array jobs (SLURM arrays, Kubernetes indexed Jobs, SGE task
arrays): element i of an array runs plan task `offset + i`, and the node learns i from the
target's index variable (Target.index_variable).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.frames import format_frame_list


@dataclass
class ArrayChunk:
    """One sbatch array: plan task indices `offset + i` for each array index i."""

    offset: int
    indices: list[int]  # array indices (0-based, < MaxArraySize)

    @property
    def task_indices(self) -> list[int]:
        return [self.offset + i for i in self.indices]

    def array_spec(self, throttle: int | None = None) -> str:
        """sbatch --array value, e.g. '0-99%10' or '3,7,12-14'."""
        spec = format_frame_list(self.indices)
        return f"{spec}%{throttle}" if throttle else spec


def split_arrays(task_indices: list[int], max_array_size: int,
                 max_elements: int | None = None) -> list[ArrayChunk]:
    """Group plan task indices into arrays whose array indices stay below MaxArraySize.

    Each array covers a window of `max_array_size` consecutive plan indices starting at its
    first task, so element i of an array runs task offset+i; retries of scattered tasks
    (e.g. 3, 7, 1200) become sparse arrays ('0,4' and '0') rather than one array per task.
    """
    if max_array_size < 1:
        raise ValueError(f"MaxArraySize must be >= 1, got {max_array_size}")
    limit = max_elements or max_array_size
    chunks: list[ArrayChunk] = []
    for index in sorted(set(task_indices)):
        last = chunks[-1] if chunks else None
        if (last is None or index - last.offset >= max_array_size
                or len(last.indices) >= limit):
            chunks.append(ArrayChunk(offset=index, indices=[0]))
        else:
            last.indices.append(index - last.offset)
    return chunks


def expand_indices(spec: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7] (array indices as recorded by ArrayChunk.array_spec)."""
    out: list[int] = []
    for part in str(spec).split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out
