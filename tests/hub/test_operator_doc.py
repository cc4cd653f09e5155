"""docs/operator.md's example config is a real one: it loads, every adapter accepts its
part, and its queues behave as the guide's table says."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from hub import keys
from hub.settings import load_settings
from offload_hub.app import create_app

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text()


def example_config(tmp_path: Path) -> Path:
    block = re.search(r"<!-- checked: hub.toml -->\s*```toml\n(.*?)```", DOC, re.S).group(1)
    path = tmp_path / "hub.toml"
    path.write_text(block)
    return path


def test_the_example_config_loads_and_every_adapter_takes_its_part(tmp_path, monkeypatch):
    settings = load_settings(example_config(tmp_path))
    app = create_app(settings)  # validates each instance's config against its adapter
    host = app[keys.PROVIDERS]
    assert {i.name: i.type for i in host} == {"desk": "desk", "mail": "email", "partner": "webhook"}
    assert all(i.provider is not None for i in host)
    support = app[keys.ROUTER].get("support")
    assert [step.wait_limit for step in support.chain] == [120, 300, None]
    hours = support.hours
    assert hours.is_open(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))  # Monday 10:00 Madrid
    assert not hours.is_open(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))  # Saturday
    assert not hours.is_open(datetime(2026, 12, 25, 9, 0, tzinfo=UTC))  # a holiday
    assert not hours.is_open(datetime(2026, 11, 27, 13, 30, tzinfo=UTC))  # Friday 14:30
    router = app[keys.ROUTER]
    assert router.match(bot_id="b", language="es-ES", skills=[], requested=None).name == "support"
    assert (
        router.match(bot_id="b", language="en", skills=["billing"], requested=None).name
        == "billing"
    )


def test_every_setting_in_the_tables_exists():
    from hub.settings import Lifecycle, Limits, RateLimits, Settings
    from providers.desk import DeskConfig

    settings_tables = re.findall(r"^\| key \|.*?\n(?:\|.*\n)+", DOC, re.M)
    first_cells = re.findall(r"^\| (`[^|]*?) \|", "".join(settings_tables), re.M)
    documented = {name for cell in first_cells for name in re.findall(r"`([a-z_]+)`", cell)}
    known = (
        set(Settings.model_fields)
        | set(Lifecycle.model_fields)
        | set(Limits.model_fields)
        | set(RateLimits.model_fields)
        | set(DeskConfig.model_fields)
    )
    assert documented <= known, documented - known
    assert set(Lifecycle.model_fields) - {"retention_batch"} <= documented
    assert set(DeskConfig.model_fields) <= documented


def test_the_readme_queue_example_loads_and_behaves(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"## Queues, chains and hours.*?```toml\n(.*?)```", readme, re.S).group(1)
    path = tmp_path / "hub.toml"
    path.write_text(block)
    app = create_app(load_settings(path))
    support = app[keys.ROUTER].get("support")
    assert [(s.provider, s.wait_limit) for s in support.chain] == [("desk", 120), ("mail", None)]
    assert [s.provider for s in support.out_of_hours] == ["mail"]
    assert not support.hours.is_open(datetime(2026, 12, 25, 10, 0, tzinfo=UTC))
    assert support.hours.is_open(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # a Tuesday
