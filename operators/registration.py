"""Registration of the extension's classes and properties (imported only by register())."""

from __future__ import annotations

from typing import Any

import bpy

from ..panels import lists, preferences, spaces
from . import (
    batch_ops,
    bridge,
    jobs_ops,
    monitor,
    preflight_ops,
    preview_ops,
    profiles_ops,
    props,
    show_panel_ops,
    submit_ops,
    thumbnails,
)

# Property groups first (pointers need them), panels last (parents before children).
classes = (
    *props.classes,
    *preferences.classes,
    *preview_ops.classes,
    *preflight_ops.classes,
    *submit_ops.classes,
    *jobs_ops.classes,
    *batch_ops.classes,
    *profiles_ops.classes,
    *show_panel_ops.classes,
    *lists.classes,
    *spaces.classes,
)

_factory: Any = bpy.utils.register_classes_factory  # the stubs say it returns None
_register_classes, _unregister_classes = _factory(classes)


def register() -> None:
    _register_classes()
    props.attach()
    show_panel_ops.add_menu_entry()
    monitor.start(load_recent=True)


def unregister() -> None:
    monitor.stop()
    show_panel_ops.remove_menu_entry()
    thumbnails.clear()
    bridge.remove_copies()
    props.detach()
    _unregister_classes()
