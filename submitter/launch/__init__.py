"""How a worker process is started: runtime.py (a Blender executable or a Python with bpy, the
boot line, a job's code layout), local.py (run one worker here, with a timeout). May import
model/ and files/.
"""
