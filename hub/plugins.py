"""Provider adapters: found through the ``offload_hub.providers`` entry-point group.

The hub never imports an adapter by name; built-ins register in the same group as any
third-party plugin. A plugin that fails to import, is not a ``Provider``, or declares a
capability it does not implement is reported (``offload-hub providers list``, ``/readyz``)
and its instances stay unhealthy; the hub still starts. A *config* error of an instance
(an unknown key, a missing secret) stops start-up with a message naming the key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from pydantic import ValidationError

from hub.settings import ConfigError, ProviderInstanceSettings, Settings, describe_validation_error
from providers import ENTRY_POINT_GROUP, Health, Provider, ProviderAuthError, ProviderContext
from providers.capabilities import missing_methods

log = logging.getLogger(__name__)

DEFAULT_PROVIDER = "desk"


@dataclass
class Adapter:
    """An installed adapter: its class, or why it could not be loaded."""

    name: str
    target: str
    cls: type[Provider] | None = None
    error: str | None = None

    @property
    def capabilities(self) -> list[str]:
        return sorted(c.value for c in self.cls.capabilities) if self.cls else []


@dataclass
class Instance:
    """A configured provider instance and its health."""

    name: str
    type: str
    enabled: bool = True
    provider: Provider | None = None
    healthy: bool = False
    detail: str = "not started"
    started: bool = field(default=False, repr=False)

    @property
    def usable(self) -> bool:
        return self.enabled and self.healthy and self.provider is not None

    def report(self, ok: bool, detail: str) -> None:
        if ok != self.healthy or detail != self.detail:
            log.log(
                logging.INFO if ok else logging.WARNING,
                "provider %s is %s%s",
                self.name,
                "healthy" if ok else "unhealthy",
                f": {detail}" if detail else "",
            )
        self.healthy, self.detail = ok, detail


def discover_adapters() -> dict[str, Adapter]:
    adapters: dict[str, Adapter] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        adapter = Adapter(entry_point.name, entry_point.value)
        adapters[entry_point.name] = adapter
        try:
            loaded = entry_point.load()
        except Exception as exc:
            adapter.error = f"cannot import {entry_point.value}: {type(exc).__name__}: {exc}"
            log.error("provider adapter %r is broken: %s", entry_point.name, adapter.error)
            continue
        if not (isinstance(loaded, type) and issubclass(loaded, Provider)):
            adapter.error = f"{entry_point.value} is not a subclass of providers.Provider"
        elif missing := missing_methods(loaded, frozenset(loaded.capabilities)):
            adapter.error = "declares capabilities it does not implement: " + ", ".join(missing)
        else:
            adapter.cls = loaded
        if adapter.error:
            log.error("provider adapter %r is broken: %s", entry_point.name, adapter.error)
    return adapters


def declared_instances(
    settings: Settings, adapters: dict[str, Adapter]
) -> dict[str, ProviderInstanceSettings]:
    """The configured instances; with none configured, one desk instance if it is installed."""
    if settings.providers:
        return dict(settings.providers)
    if DEFAULT_PROVIDER in adapters:
        return {DEFAULT_PROVIDER: ProviderInstanceSettings(type=DEFAULT_PROVIDER)}
    return {}


class ProviderHost:
    """The provider instances of one hub process."""

    def __init__(
        self, adapters: dict[str, Adapter], instances: dict[str, Instance], *, call_timeout: float
    ) -> None:
        self.adapters = adapters
        self.instances = instances
        self.call_timeout = call_timeout

    @classmethod
    def build(
        cls, settings: Settings, make_context: Callable[[Instance], ProviderContext]
    ) -> ProviderHost:
        """Load the adapters and construct every instance (no I/O yet: see ``start``);
        ``make_context`` gives each its :class:`~providers.ProviderContext`."""
        adapters = discover_adapters()
        instances: dict[str, Instance] = {}
        for name, declared in declared_instances(settings, adapters).items():
            instance = instances[name] = Instance(name, declared.type, declared.enabled)
            adapter = adapters.get(declared.type)
            if adapter is None:
                installed = ", ".join(sorted(adapters)) or "none"
                instance.detail = (
                    f"no provider adapter named {declared.type!r} is installed "
                    f"(installed: {installed})"
                )
                log.error("provider %s: %s", name, instance.detail)
                continue
            if adapter.cls is None:
                instance.detail = f"adapter {declared.type!r} is broken: {adapter.error}"
                continue
            try:
                config = adapter.cls.config_model.model_validate(declared.adapter_config())
            except ValidationError as exc:
                raise ConfigError(
                    describe_validation_error(exc, key_prefix=f"providers.{name}")
                ) from None
            try:
                instance.provider = adapter.cls(name, config, make_context(instance))
            except Exception as exc:
                instance.detail = f"adapter failed to initialise: {type(exc).__name__}: {exc}"
                log.exception("provider %s failed to initialise", name)
        return cls(adapters, instances, call_timeout=settings.provider_timeout_seconds)

    def __iter__(self) -> Iterator[Instance]:
        return iter(self.instances.values())

    def get(self, name: str) -> Instance | None:
        return self.instances.get(name)

    def provider(self, name: str | None) -> Provider | None:
        instance = self.instances.get(name) if name else None
        return instance.provider if instance is not None else None

    async def start(self) -> None:
        await asyncio.gather(*(self._start(instance) for instance in self))

    async def _start(self, instance: Instance) -> None:
        timeout = self.call_timeout
        if instance.provider is None:
            return
        if not instance.enabled:
            instance.report(False, "disabled in the config")
            return
        try:
            await asyncio.wait_for(instance.provider.start(), timeout)
            instance.started = True
            health = await asyncio.wait_for(instance.provider.check(), timeout)
        except ProviderAuthError as exc:
            health = Health(False, f"credentials rejected: {exc}")
        except TimeoutError:
            health = Health(False, f"no answer within {timeout:g}s")
        except Exception as exc:
            log.exception("provider %s failed to start", instance.name)
            health = Health(False, f"start failed: {type(exc).__name__}: {exc}")
        instance.report(health.ok, health.detail)

    async def check(self) -> None:
        """Check every instance again (:meth:`check_instance` for each)."""
        await asyncio.gather(*(self.check_instance(instance) for instance in self))

    async def check_instance(self, instance: Instance) -> None:
        """One instance again (the scheduler does, as often as :meth:`checked` says): one
        that failed to start is started again, a started one runs its ``check()``."""
        if instance.provider is None or not instance.enabled:
            return
        if not instance.started:
            await self._start(instance)
            return
        try:
            health = await asyncio.wait_for(instance.provider.check(), self.call_timeout)
        except Exception as exc:
            health = Health(False, f"check failed: {type(exc).__name__}: {exc}")
        instance.report(health.ok, health.detail)

    def checked(self, default_every: float) -> Iterator[tuple[Instance, float]]:
        """The instances the scheduler checks, each with its interval: the adapter's own
        ``check_every``, else ``default_every``."""
        for instance in self:
            if instance.provider is not None and instance.enabled:
                yield instance, instance.provider.check_every or default_every

    async def stop(self) -> None:
        timeout = self.call_timeout
        for instance in reversed(list(self)):
            if instance.provider is None or not instance.started:
                continue
            try:
                await asyncio.wait_for(instance.provider.stop(), timeout)
            except Exception:
                log.exception("provider %s failed to stop cleanly", instance.name)
            instance.started = False
            instance.healthy, instance.detail = False, "stopped"
