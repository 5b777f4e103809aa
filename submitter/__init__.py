"""The plain-Python core; never imports bpy. Its folders name its parts:

model/    settings + every default, frames, job spec, plan, worker task, states, exit codes
files/    plain I/O: atomic writes, image readers, the job-directory layout, task state, results
jobs/     submit, status, retry, cancel, wait, logs, the recent-jobs index, preflight, pack
targets/  one sub-package per engine (local/, slurm/) behind one interface, shared helpers
launch/   how a worker process is started (Blender executable or bpy Python)
formats/  dataset writers from poses + intrinsics
cli/      the argparse front door

Imports point down this list's dependency order: model <- files <- launch <- targets <- jobs
<- cli (formats: model and files only). worker/ and the add-on UI import the core, never back.
"""
