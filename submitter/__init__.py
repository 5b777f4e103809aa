"""Plain-Python core: job spec, frames, planning, packaging, targets, CLI. Never imports bpy."""
