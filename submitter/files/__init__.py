"""Plain I/O: atomic writes, image readers, layout.py (the one owner of every job-directory and
output name), the job directory (jobdir.py), task state files and markers (taskstate.py) and
a subject's result.json (result.py). May import model/; runs inside Blender too.
"""
