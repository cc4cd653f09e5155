"""The example plugin of docs/providers.md, as a plugin author ships it: installed with pip
from its own pyproject.toml, found by the hub through its entry point, passing the
conformance kit with its own test suite, and carrying a real escalation through a hub (on
SQLite and on PostgreSQL). And the guide quotes its files exactly as they are."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hub import keys
from hub.plugins import discover_adapters
from hub.settings import load_settings
from offload_hub.app import create_app
from providers import (
    ENTRY_POINT_GROUP,
    Agent,
    Capability,
    ProviderContext,
    ProviderError,
    errors,
)
from providers.testing import ProviderConformance

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "offload-hub-example-provider"
GUIDE = ROOT / "docs" / "providers.md"
INSTALL_SECONDS = 180
KIT_SECONDS = 180


def load_fake() -> ModuleType:
    """The example's fake Tinychat (its tests' helper, not part of the installed package)."""
    spec = importlib.util.spec_from_file_location(
        "example_fake_tinychat", EXAMPLE / "tests" / "fake_tinychat.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fake = load_fake()


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example package, installed by pip (no network: no dependencies, no build
    isolation) into a directory that goes on ``sys.path``, as site-packages would be."""
    root = tmp_path_factory.mktemp("example")
    source = root / "source"  # pip builds in the tree: build it from a copy
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    target = root / "site-packages"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--disable-pip-version-check",
        "--target",
        str(target),
        str(source),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_SECONDS)
    assert done.returncode == 0, (
        "pip could not install the example (the build needs setuptools>=70.1 in this "
        f"environment):\n{done.stdout}\n{done.stderr}"
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        for name in [n for n in sys.modules if n.split(".")[0] == "offload_hub_example"]:
            del sys.modules[name]


def test_the_example_is_found_through_its_entry_point(example: Path) -> None:
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert found["tinychat"].value == "offload_hub_example:TinychatProvider"
    assert found["tinychat"].dist is not None
    assert found["tinychat"].dist.name == "offload-hub-example-provider"
    adapter = discover_adapters()["tinychat"]
    assert adapter.error is None and adapter.cls is not None
    assert adapter.capabilities == [Capability.USER_TYPING.value]
    # The class comes from the installed copy, not from the source tree.
    assert Path(inspect.getfile(adapter.cls)).is_relative_to(example)


def test_the_example_passes_the_kit_with_its_own_tests(example: Path, tmp_path: Path) -> None:
    """Its tests run as its author runs them (its pytest config, its fake Tinychat), with
    the package importable only from where pip installed it."""
    project = tmp_path / "project"
    shutil.copytree(
        EXAMPLE / "tests", project / "tests", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(EXAMPLE / "pyproject.toml", project / "pyproject.toml")
    report = tmp_path / "report.xml"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(example), os.environ.get("PYTHONPATH")])),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=KIT_SECONDS,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    cases = ElementTree.parse(report).getroot().iter("testcase")
    outcomes = {case.get("name"): [child.tag for child in case] for case in cases}
    checks = {name for name in dir(ProviderConformance) if name.startswith("test_")}
    assert checks <= set(outcomes), checks - set(outcomes)
    assert all(not tags for tags in outcomes.values()), outcomes  # none failed or skipped


# -- through a real hub ----------------------------------------------------------------------


def tinychat_hub(service: Any, *then: str) -> dict[str, Any]:
    providers: dict[str, Any] = {"chat": {"type": "tinychat", **service.config()}}
    if then:
        providers["fallback"] = {"type": "scripted", "mode": "ticket"}
    return {
        "providers": providers,
        "queues": [{"name": "support", "chain": ["chat", *then]}],
    }


async def post_event(hub: Any, service: Any, cid: str, kind: str, **fields: Any) -> int:
    body, headers = service.event(cid, kind, **fields)
    response = await hub.client.post("/providers/chat/events", data=body, headers=headers)
    return response.status


async def test_a_hub_carries_a_conversation_through_the_example(example, hub_factory):
    async with asyncio.timeout(30):
        service = await fake.FakeTinychat().start()
        try:
            hub = await hub_factory(**tinychat_hub(service))
            ready = await (await hub.client.get("/readyz")).json()
            assert ready["providers"]["chat"] == {"type": "tinychat", "healthy": True, "detail": ""}
            answer = await hub.chatbot.escalate(
                expect=201,
                user={"name": "Jo", "email": "jo@example.com", "language": "en"},
                inquiry="My order A-17 is late",
                transcript=[{"user": "guest", "message": "Where is my order?"}],
            )
            cid = answer["conversationId"]
            assert (answer["status"], answer["position"]) == ("queued", 1)
            chat = service.chats[cid]
            assert chat["inquiry"] == "My order A-17 is late"
            assert chat["transcript"] == [{"from": "guest", "text": "Where is my order?"}]
            assert chat["callback"].endswith("/providers/chat/events")

            ana = Agent("a1", "Ana", "https://cdn.example.com/ana.png")
            assert await post_event(hub, service, cid, "joined", id="ev-1", agent=ana) == 200
            for _ in range(2):  # Tinychat retries; the hub shows it once
                status = await post_event(
                    hub, service, cid, "message", id="ev-2", agent=ana, text="Hi Jo <3"
                )
                assert status == 200
            actions = await hub.chatbot.actions(cid)
            assert ("setChatbotName", {"source": "name", "name": "Ana"}) in actions
            shown = [data for action, data in actions if action == "displayChatbotMessage"]
            assert [message["message"] for message in shown] == ["Hi Jo &lt;3"]

            sent = await hub.chatbot.send(cid, "u-1", "Where is it now?")
            await hub.settled()
            assert service.shown == [(chat["chat"], sent["externalId"])]
            await hub.chatbot.call(
                "POST",
                f"/v1/conversations/{cid}/typing",
                conversation_id=cid,
                json={"typing": True},
            )
            assert service.typing == [(chat["chat"], True)]

            await hub.chatbot.call(
                "POST",
                f"/v1/conversations/{cid}/close",
                conversation_id=cid,
                json={"reason": "done"},
            )
            await hub.settled()
            assert service.closed == [chat["chat"]]
            late = await post_event(hub, service, cid, "message", id="ev-3", text="Still there?")
            assert late == 409
            assert await post_event(hub, service, "c_nobody", "typing", id="ev-4") == 404
            bad = await hub.client.post(
                "/providers/chat/events", data=b"{}", headers={"Hub-Signature": "t=1,v1=00"}
            )
            assert bad.status == 401
        finally:
            await service.stop()


async def test_the_chain_moves_on_when_tinychat_has_nobody(example, hub_factory):
    async with asyncio.timeout(30):
        service = await fake.FakeTinychat().start()
        try:
            service.full = True  # its status says open, but it refuses new chats
            hub = await hub_factory(**tinychat_hub(service, "fallback"))
            answer = await hub.chatbot.escalate(expect=201)
            assert answer["status"] == "ticket"
            assert service.chats == {}
        finally:
            await service.stop()


async def test_rejected_credentials_keep_the_example_out_of_the_chain(example, hub_factory):
    async with asyncio.timeout(30):
        service = await fake.FakeTinychat().start()
        try:
            settings = tinychat_hub(service, "fallback")
            settings["providers"]["chat"]["api_token"] = "not-the-token-0123456789"
            hub = await hub_factory(**settings)
            ready = await (await hub.client.get("/readyz")).json()
            assert ready["providers"]["chat"]["healthy"] is False
            assert "refused the API token" in ready["providers"]["chat"]["detail"]
            assert (await hub.chatbot.escalate(expect=201))["status"] == "ticket"
        finally:
            await service.stop()


# -- the guide ---------------------------------------------------------------------------------

QUOTE = re.compile(r"<!-- (example|quote): ([\w./-]+) -->\n```\w*\n(.*?)```", re.S)


def quotes() -> dict[str, list[tuple[str, str]]]:
    """The guide's quoted blocks, by the file they quote, in the guide's order."""
    found: dict[str, list[tuple[str, str]]] = {}
    for mode, path, text in QUOTE.findall(GUIDE.read_text()):
        found.setdefault(path, []).append((mode, text))
    return found


def test_the_guide_quotes_the_example_exactly_and_whole() -> None:
    """Each quoted block is a run of lines of its file, in the file's order; a file quoted
    as an *example* is quoted whole (only blank lines between the blocks are left out)."""
    found = quotes()
    assert {
        "examples/offload-hub-example-provider/pyproject.toml",
        "examples/offload-hub-example-provider/offload_hub_example/provider.py",
        "examples/offload-hub-example-provider/tests/test_tinychat.py",
    } <= set(found)
    for path, blocks in found.items():
        lines = (ROOT / path).read_text().splitlines()
        position = 0
        covered: set[int] = set()
        for _, text in blocks:
            quoted = text.splitlines()
            start = next(
                (
                    at
                    for at in range(position, len(lines) - len(quoted) + 1)
                    if lines[at : at + len(quoted)] == quoted
                ),
                None,
            )
            assert start is not None, f"{path}: the guide quotes lines that are not in it " + (
                f"(or not after the previous quote):\n{text}"
            )
            covered.update(range(start, start + len(quoted)))
            position = start + len(quoted)
        if any(mode == "example" for mode, _ in blocks):
            left_out = [n + 1 for n, line in enumerate(lines) if line.strip() and n not in covered]
            assert not left_out, f"{path}: lines {left_out} are not in the guide"


def test_the_guides_config_declares_a_working_instance(example: Path, tmp_path: Path) -> None:
    block = re.search(r"<!-- checked: hub.toml -->\n```toml\n(.*?)```", GUIDE.read_text(), re.S)
    assert block is not None
    path = tmp_path / "hub.toml"
    path.write_text(block.group(1))
    app = create_app(load_settings(path))
    instance = app[keys.PROVIDERS].get("chat")
    assert instance is not None and instance.type == "tinychat"
    assert instance.provider is not None
    assert instance.provider.config.allow_private_network is False  # type: ignore[attr-defined]


def test_the_guide_names_every_context_method_and_error() -> None:
    guide = GUIDE.read_text()
    methods = [
        name
        for name, value in vars(ProviderContext).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    ]
    missing = [name for name in methods if f"`{name}" not in guide]
    assert not missing, f"the guide does not describe {missing}"
    error_names = [
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, ProviderError)
    ]
    assert not [name for name in error_names if f"`{name}`" not in guide]
    assert not [c.value for c in Capability if f"`{c.value}`" not in guide]
