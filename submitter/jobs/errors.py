"""The error every jobs/ function raises for something the user can fix."""

from __future__ import annotations

from ..model.settings import SettingsError


class JobError(SettingsError):
    """Something about a job the user can fix; the message says what to do."""
