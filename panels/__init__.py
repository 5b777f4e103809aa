"""Panels: draw only."""
