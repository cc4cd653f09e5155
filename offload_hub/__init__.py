"""offload-hub's composition root: the app factory (:mod:`offload_hub.app`) and the
``offload-hub`` command (:mod:`offload_hub.cli`). It sits above the packages it wires:
:mod:`hub` (the core), :mod:`dashboard` (the agents' web UI) and the provider adapters
(found through their entry points); none of them imports it."""
