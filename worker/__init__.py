"""Blender-side rendering: load, detect animation, centre, orbit, render. Runs inside Blender."""
