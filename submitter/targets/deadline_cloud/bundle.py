"""An Open Job Description job bundle for orbitfarm tasks: a pure function of its parameters.

A bundle is a folder (JOBDIR/deadline-cloud/bundle-N/) with template.yaml (the OpenJD job
template), parameter_values.yaml and asset_references.yaml, the three files `deadline bundle
submit` and the `deadline` library's create_job_from_job_bundle() read. Orbitfarm's tasks are one
step's OpenJD tasks over an INT parameter `Index` whose range is the plan indices sent (e.g.
"0-3,7" for a retry), so `openjd run template.yaml` runs the very same tasks on this machine and
`--task-param Index=3` runs one.

The step's embedded script is task_script.py's (the task's log goes to JOBDIR/logs/). Paths are
as the nodes see them (path_map): the fleet mounts the job directory (shared storage); the
JobDir parameter is a PATH so Deadline's storage profiles and path mapping rules apply to it, and
the asset references name the inputs and outputs for queues that use job attachments.
"""

from __future__ import annotations

from typing import Any

from ...launch.runtime import Runtime
from ...model.frames import format_frame_list
from ..task_script import task_script

SPEC_VERSION = "jobtemplate-2023-09"
INDEX_PARAMETER = "Index"
STEP_NAME = "Render"


def openjd_range(indices: list[int]) -> str:
    """An OpenJD INT range expression for plan indices: [0,1,2,3,7] -> '0-3,7'."""
    if not indices:
        raise ValueError("an OpenJD step needs at least one task")
    return format_frame_list(sorted(set(indices)))


def job_template(*, name: str, job_dir: str, plan_file: str, code_dir: str, runtime: Runtime,
                 indices: list[int], task_id_digits: int, env: dict[str, str] | None = None,
                 setup: list[str] | None = None, host_requirements: dict[str, Any] | None = None,
                 legacy_worker: bool = False) -> dict[str, Any]:
    """The job template (as a dict) whose step runs these plan indices."""
    script = task_script(job_dir=job_dir, plan_file=plan_file, code_dir=code_dir,
                         runtime=runtime, index=f"{{{{Task.Param.{INDEX_PARAMETER}}}}}",
                         task_id_digits=task_id_digits, env=env, setup=setup,
                         note=f"{name}, an OpenJD task", legacy_worker=legacy_worker)
    step: dict[str, Any] = {
        "name": STEP_NAME,
        "parameterSpace": {"taskParameterDefinitions": [
            {"name": INDEX_PARAMETER, "type": "INT", "range": openjd_range(indices)}]},
        "script": {
            "embeddedFiles": [{"name": "Task", "type": "TEXT", "filename": "orbitfarm-task.sh",
                               "data": script}],
            "actions": {"onRun": {"command": "bash", "args": ["{{Task.File.Task}}"]}},
        },
    }
    if host_requirements:
        step["hostRequirements"] = host_requirements
    return {
        "specificationVersion": SPEC_VERSION,
        "name": name,
        "description": "orbitfarm orbit renders; each task runs one task of the job's plan",
        "parameterDefinitions": [{
            "name": "JobDir", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "INOUT",
            "default": job_dir,
            "description": "the orbitfarm job directory as the workers see it"}],
        "steps": [step],
    }


def parameter_values(job_dir: str) -> dict[str, Any]:
    """parameter_values.yaml: the job directory as the workers see it."""
    return {"parameterValues": [{"name": "JobDir", "value": job_dir}]}


def asset_references(inputs: list[str], outputs: list[str]) -> dict[str, Any]:
    """asset_references.yaml: what a job-attachments queue uploads and brings back."""
    return {"assetReferences": {"inputs": {"directories": sorted(inputs), "filenames": []},
                                "outputs": {"directories": sorted(outputs)},
                                "referencedPaths": []}}


def validate(template: dict[str, Any]) -> None:
    """Check the template with openjd-model (the specification's own parser); ValueError says
    what is wrong."""
    from openjd.model import DecodeValidationError, decode_job_template

    try:
        decode_job_template(template=template)
    except DecodeValidationError as exc:
        raise ValueError(f"the OpenJD job template is not valid: {exc}") from None
