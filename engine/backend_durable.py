"""The only module that touches durable_rules (its C extension, driven directly).

Follows shared/research/durable-rules.md §15-16: facts only (never events), no ``durable.engine.Host``
(its timer threads crash), every ruleset name registered once per process, actions drained before a
session is deleted, and a ruleset rebuilt (never a session deleted) after any C error.
"""

from __future__ import annotations

import itertools
import threading

import durable_rules_engine as _dr  # durable-rules==2.0.28; does not import on Python 3.13


class DurableError(RuntimeError):
    """durable_rules reported an error; the message names the ruleset and the C error code."""


class DurableBackend:
    """Registers compiled rulesets and returns the names of the rules a fact fires."""

    def __init__(self) -> None:
        self._handles: dict[str, int] = {}
        self._json: dict[str, str] = {}
        self._lock = threading.Lock()
        self._sids = itertools.count(1)

    def register(self, name: str, rules_json: str) -> None:
        """Register once; a second call with the same name is a no-op (durable cannot re-register)."""
        with self._lock:
            if name in self._handles:
                return
            try:
                self._handles[name] = _dr.create_ruleset(name, rules_json)
            except _dr.error as exc:
                raise DurableError(f"{name}: {exc}") from exc
            self._json[name] = rules_json

    def unregister(self, name: str) -> None:
        with self._lock:
            handle = self._handles.pop(name, None)
            self._json.pop(name, None)
            if handle is not None:
                _dr.delete_ruleset(handle)

    def close(self) -> None:
        for name in list(self._handles):
            self.unregister(name)

    def fire(self, name: str, fact_fields: str) -> list[str]:
        """Assert one fact (JSON object body without braces' sid) and return every fired rule's name.

        ``fact_fields`` is the JSON text of the fact's fields *without* the enclosing braces; the
        backend adds the session id. The sentinel rule guarantees one started action per session,
        which makes ``delete_state`` safe after the drain (§10.1).
        """
        with self._lock:
            handle = self._handles[name]
            sid = str(next(self._sids))
            fired: list[str] = []
            try:
                _code, offset = _dr.assert_fact(handle, '{"sid":"' + sid + '",' + fact_fields + "}")
                result = _dr.start_action_for_state(handle, offset)
                message = result[1] if result else None
                while message:
                    fired.append(message[2:message.index('"', 2)])
                    message = _dr.complete_and_start_action(handle, offset)
            except _dr.error as exc:
                self._rebuild(name)
                raise DurableError(f"{name}: {exc}") from exc
            _dr.delete_state(handle, sid)
            return fired

    def _rebuild(self, name: str) -> None:
        """Drop a ruleset whose session may hold undrained actions and register it afresh."""
        handle = self._handles.pop(name)
        _dr.delete_ruleset(handle)
        self._handles[name] = _dr.create_ruleset(name, self._json[name])
