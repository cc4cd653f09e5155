"""The conformance kit for provider adapters.

A plugin author subclasses :class:`ProviderConformance` in a test module, names the
adapter class and supplies its config as a pytest fixture; pytest then runs the contract
checks against the adapter (with pytest-asyncio installed)::

    from providers.testing import ProviderConformance

    class TestMyAdapter(ProviderConformance):
        provider_class = MyAdapter

        @pytest.fixture
        def provider_config(self):
            return {"api_url": "http://127.0.0.1:9999", "token": "secret"}

:class:`RecordingContext` is the ``ProviderContext`` the kit gives the adapter: it keeps
every call, so a test can check what the adapter reported.
"""

from providers.testing.conformance import ProviderConformance
from providers.testing.context import ContextCall, RecordingContext
from providers.testing.samples import sample_handoff, sample_message

__all__ = [
    "ContextCall",
    "ProviderConformance",
    "RecordingContext",
    "sample_handoff",
    "sample_message",
]
