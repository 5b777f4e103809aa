"""Every panel's draw() against a recording stand-in for `layout` (no UI in background mode)."""

from __future__ import annotations


def test_every_panel_draws_real_properties_and_registered_operators(scenario):
    result = scenario("draw_panels", process_timeout=180)
    assert result["full"] >= 13  # 10 panels + 2 lists + preferences
    assert "orbitfarm.submit" in result["operators"]
