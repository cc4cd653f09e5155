"""Schemathesis hooks for tests/hub/test_api_schema.py (loaded by ``SCHEMATHESIS_HOOKS``).

Generated ids would only ever meet 404s: every other call is pointed at a real
conversation (and the Chatlayer integration with its Verify Token), so the handlers behind
them are exercised too; a third keep what was generated. Long-polls are kept short.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import schemathesis

_turns = itertools.count()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    real = next(_turns) % 3 != 2
    parameters = case.path_parameters or {}
    if real and "conversation_id" in parameters:
        parameters["conversation_id"] = os.environ["SCHEMA_CONVERSATION_ID"]
    if real and "name" in parameters:
        parameters["name"] = os.environ["SCHEMA_CHATLAYER_NAME"]
        case.query = {**(case.query or {}), "challenge.verifyToken": os.environ["SCHEMA_TOKEN"]}
    query = case.query or {}
    if isinstance(query.get("wait"), int | float | str) and str(query["wait"]).isdigit():
        query["wait"] = min(int(query["wait"]), 1)
