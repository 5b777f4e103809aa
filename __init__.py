"""orbitfarm: orbit-render datasets (RGB, depth, camera poses) from Blender scenes on any cluster.

This file is the Blender extension's entry point and does registration only; bpy is imported
inside register() so `import orbitfarm.submitter` works on login nodes without Blender.
"""


def register() -> None:
    from .operators import registration

    registration.register()


def unregister() -> None:
    from .operators import registration

    registration.unregister()
