"""The Ansible plugins under plugins/ are files Ansible loads by path, not a package: load them so."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def load_plugin(relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"govmobile_plugin_{Path(relative).stem}", PLUGINS / relative
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
