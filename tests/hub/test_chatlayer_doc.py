"""docs/chatlayer.md is a real guide: its example configuration loads and builds the
integration it describes, and its tables name the settings and texts the code has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub import keys
from hub.chatlayer.settings import DEFAULT_TEXTS, ChatlayerSettings
from hub.settings import load_settings
from offload_hub.app import create_app
from tests.hub.test_chatlayer import bounded

DOC = (Path(__file__).resolve().parents[2] / "docs" / "chatlayer.md").read_text()


def example_config(tmp_path: Path) -> Path:
    block = re.search(r"<!-- checked: hub.toml -->\s*```toml\n(.*?)```", DOC, re.S)
    assert block is not None
    path = tmp_path / "hub.toml"
    path.write_text(block.group(1))
    return path


@bounded()
async def test_the_example_config_loads_and_builds_the_integration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFLOAD_HUB_CHATLAYER__SHOP__API_TOKEN", "a-chatlayer-api-token")
    settings = load_settings(example_config(tmp_path))
    app = create_app(settings)
    shop = app[keys.SETTINGS].chatlayer["shop"]
    assert shop.bot in settings.bots
    assert shop.api_token.get_secret_value() == "a-chatlayer-api-token"
    assert (shop.queue, shop.versions, shop.show_agent_name) == ("support", ["LIVE"], True)
    assert shop.text("agent-joined", {"agentName": "Ana"}) == "Ana is here to help you."
    assert shop.text("agent-left", {"agentName": "Ana"}) == "Ana left the chat."
    assert app[keys.ROUTER].get("support") is not None


@bounded()
async def test_the_tables_match_the_code() -> None:
    rows = re.findall(r"^\| `([a-z_-]+)` \| (.*?) \|", DOC, re.M)
    documented = {name for name, _ in rows}
    assert set(ChatlayerSettings.model_fields) <= documented
    texts = {name: cell for name, cell in rows if name in DEFAULT_TEXTS}
    assert set(texts) == set(DEFAULT_TEXTS)
    for label, text in DEFAULT_TEXTS.items():
        assert texts[label] == (
            f"`{text}`"
            if text
            else '`""` (off; `{position}` and `{estimatedWait}` are there if you want it)'
        ), label
