"""Erasing a conversation's tracker, for the staff console's customer erasure.

Why not Rasa's ``PUT /conversations/{id}/tracker/events`` with ``[]``: Rasa 3.6 has no
delete, and that endpoint saves a new tracker through ``TrackerStore.save``, which the
Redis tracker store this stack uses (``bot/endpoints.yml``) merges with the stored one
(``RedisTrackerStore._merge_trackers``), so every old event stays. The SQL store only
appends. So the gateway's REST channel (``bot/channels.py``, behind its
``X-Rasa-Token`` check) also answers ``DELETE /webhooks/rest/conversations/{id}``,
which removes the stored tracker itself, under the conversation's lock.
"""

from __future__ import annotations

from typing import Any

from rasa.core.tracker_store import (
    InMemoryTrackerStore,
    RedisTrackerStore,
    SQLTrackerStore,
    TrackerStore,
)
from sanic import Blueprint, response
from sanic.request import Request


def _innermost(store: Any) -> Any:
    # Rasa wraps the configured store (AwaitableTrackerStore, FailSafeTrackerStore).
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    return store


def erase_tracker(store: TrackerStore, sender_id: str) -> bool:
    """Delete every stored event of the conversation; False when the kind of tracker
    store is not one this knows how to erase (nothing is done then)."""
    inner = _innermost(store)
    if isinstance(inner, RedisTrackerStore):
        inner.red.delete(inner.key_prefix + sender_id)
    elif isinstance(inner, InMemoryTrackerStore):
        inner.store.pop(sender_id, None)
    elif isinstance(inner, SQLTrackerStore):
        with inner.session_scope() as session:
            session.query(inner.SQLEvent).filter(inner.SQLEvent.sender_id == sender_id).delete()
            session.commit()
    else:
        return False
    return True


def add_erasure_route(blueprint: Blueprint) -> None:
    @blueprint.route("/conversations/<conversation_id:path>", methods=["DELETE"])
    async def erase(request: Request, conversation_id: str) -> Any:
        agent = request.app.ctx.agent
        async with agent.lock_store.lock(conversation_id):
            erased = erase_tracker(agent.tracker_store, conversation_id)
        if not erased:
            return response.json(
                {
                    "status": "failure",
                    "reason": "NotSupported",
                    "message": "this tracker store cannot be erased",
                },
                status=501,
            )
        return response.json({"status": "erased", "conversation_id": conversation_id})
