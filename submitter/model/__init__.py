"""The job model, plain data and rules (no I/O beyond reading/writing its own JSON/YAML):
settings.py (RenderSettings and every default, job options), frames.py (frame specs),
views.py (view layouts: the pose of view k),
task.py (the worker task contract), jobspec.py (job.yaml), plan.py (plan.json),
states.py (task/scheduler/subject states, end reasons, the worker's exit codes),
looks.py (lighting, background, pass and video names: parsed and checked).
May import files/atomic.py and files/layout.py only; runs inside Blender too (json only).
"""
