"""The depth colour ramp now lives in the core (submitter/report/depth_colors.py): the job's web
page uses it too. Kept so the add-on's modules import it from where they always did."""

from ..submitter.report.depth_colors import NO_HIT, RAMP, colour, colour_map

__all__ = ["NO_HIT", "RAMP", "colour", "colour_map"]
