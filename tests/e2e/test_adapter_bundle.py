"""The adapter the hub serves is the bundle of its modules (adapter/src), up to date: an edit
of a module without `python adapter/bundle.py` (or of the bundle by hand) fails here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_bundler():
    spec = importlib.util.spec_from_file_location("adapter_bundle", ROOT / "adapter" / "bundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_served_adapter_is_the_bundle_of_its_modules() -> None:
    bundler = load_bundler()
    served = (ROOT / "hub" / "static" / "offload-hub-adapter.js").read_text(encoding="utf-8")
    assert served == bundler.build(), "the bundle is out of date: run python adapter/bundle.py"
    assert bundler.main(["--check"]) == 0


def test_every_module_is_in_the_bundle() -> None:
    bundler = load_bundler()
    sources = {path.name for path in (ROOT / "adapter" / "src").glob("*.js")}
    assert sources == {*bundler.MODULES, bundler.HEADER}
