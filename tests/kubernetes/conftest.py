"""The compat venvs (bpy 4.2 / 5.0 / 5.3, run with `-m compat`) have no kubernetes-validate: none
of the tests here is a compat test, so they are not collected there; in the main venv a missing
package fails loudly instead."""

from __future__ import annotations

import importlib.util


def pytest_ignore_collect(collection_path, config):
    return ("compat" in (config.option.markexpr or "")
            and importlib.util.find_spec("kubernetes_validate") is None)
