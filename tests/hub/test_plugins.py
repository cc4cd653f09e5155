"""Provider adapters come from the entry-point group; a broken one never stops the hub."""

from __future__ import annotations

import pytest

from hub import keys
from hub.settings import ConfigError, Settings
from offload_hub.app import create_app
from tests.support.chatbot import start_hub
from tests.support.plugins import write_distribution


@pytest.fixture
def broken_plugins(tmp_path, monkeypatch):
    write_distribution(
        tmp_path,
        "broken_plugins",
        {
            "vanished": "tests.support.no_such_module:Adapter",
            "notprovider": "tests.support.scripted:NotAProvider",
            "liar": "tests.support.scripted:CapabilityLiar",
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))


async def test_broken_plugins_leave_their_instances_unhealthy_and_the_hub_serving(
    broken_plugins, aiohttp_client, make_settings
):
    hub = await start_hub(
        aiohttp_client,
        make_settings(
            providers={
                "a": {"type": "vanished"},
                "b": {"type": "notprovider"},
                "c": {"type": "liar"},
                "d": {"type": "not-installed"},
                "live": {"type": "scripted"},
            },
            queues=[{"name": "support", "chain": ["a", "b", "c", "d", "live"]}],
        ),
    )
    ready = await (await hub.client.get("/readyz")).json()
    assert ready["status"] == "ready"
    providers = ready["providers"]
    assert providers["live"] == {"type": "scripted", "healthy": True, "detail": ""}
    assert providers["a"]["healthy"] is False
    assert "cannot import tests.support.no_such_module:Adapter" in providers["a"]["detail"]
    assert "not a subclass of providers.Provider" in providers["b"]["detail"]
    assert "transfer: transfer()" in providers["c"]["detail"]
    assert "no provider adapter named 'not-installed' is installed" in providers["d"]["detail"]

    answer = await hub.chatbot.escalate(expect=201)
    assert answer["status"] == "queued"
    assert (await hub.chatbot.events(answer["conversationId"]))[-1]["data"]["hub"][
        "provider"
    ] == "live"


def test_an_unknown_key_in_a_provider_config_stops_start_up_naming_it(database_url):
    settings = Settings(
        database_url=database_url,
        providers={"live": {"type": "scripted", "mdoe": "open"}},
    )
    with pytest.raises(ConfigError) as raised:
        create_app(settings)
    assert "providers.live.mdoe: unknown key" in str(raised.value)


def test_a_wrong_value_in_a_provider_config_names_the_key(database_url):
    settings = Settings(
        database_url=database_url, providers={"live": {"type": "scripted", "mode": "sideways"}}
    )
    with pytest.raises(ConfigError, match=r"providers\.live\.mode: Input should be 'open'"):
        create_app(settings)


async def test_inbound_routes_are_mounted_under_the_instance(hub):
    response = await hub.client.get("/providers/live/ping")
    assert response.status == 200
    assert await response.json() == {"instance": "live"}
    response = await hub.client.get("/providers/other/ping")
    assert response.status == 404


async def test_providers_start_with_the_hub_and_stop_with_it(aiohttp_client, make_settings):
    hub = await start_hub(aiohttp_client, make_settings(providers={"live": {"type": "scripted"}}))
    provider = hub.provider()
    assert provider.calls[0] == ("start", None)
    await hub.client.close()
    assert provider.calls[-1] == ("stop", None)


async def test_an_unhealthy_provider_is_reported_and_skipped(hub_factory):
    hub = await hub_factory(
        providers={"sick": {"type": "scripted", "unhealthy": True}},
        queues=[{"name": "support", "chain": ["sick"]}],
    )
    ready = await (await hub.client.get("/readyz")).json()
    assert ready["providers"]["sick"] == {
        "type": "scripted",
        "healthy": False,
        "detail": "configured unhealthy",
    }
    answer = await hub.chatbot.escalate(expect=201)
    assert (answer["status"], answer["reason"]) == ("ended", "no-agents")


async def test_an_instance_that_recovers_is_used_again(hub_factory):
    hub = await hub_factory(
        providers={"sick": {"type": "scripted", "unhealthy": True}},
        queues=[{"name": "support", "chain": ["sick"]}],
    )
    provider = hub.provider("sick")
    assert (await hub.chatbot.escalate("s1", expect=201))["status"] == "ended"
    provider.config = provider.config.model_copy(update={"unhealthy": False})
    await hub.app[keys.PROVIDERS].check()  # what the scheduler does every minute
    ready = await (await hub.client.get("/readyz")).json()
    assert ready["providers"]["sick"]["healthy"] is True
    assert (await hub.chatbot.escalate("s2", expect=201))["status"] == "queued"
