"""Which task a conversation is in the middle of, for the gateway's several requests.

The gateway sends the requests of one message to Rasa one after another
(``gateway/chat/clauses.py``). A request that leaves a task waiting for the customer
("send 40 to savings": the summary asks yes or no) holds the requests after it until
that task is over, so that "… and then show me my balance" shows the balance after the
transfer, and a second payment in the same message gets a summary of its own instead
of landing in the first one's. The gateway asks these routes, on the REST channel
behind its ``X-Rasa-Token`` check:

- ``GET /webhooks/rest/conversations/{id}/task`` → ``{"task": <the active form or
  null>, "asks": <the slot it asks for or null>}``;
- ``POST /webhooks/rest/conversations/{id}/held {"requests": [text, …]}`` → the bot's
  messages (as the REST channel returns them) telling the customer those requests come
  once this task is done (``utter_requests_held``): never held silently.

Read from the tracker store, never through the processor: no session is started and
nothing is written for a conversation that has none yet.
"""

from __future__ import annotations

from typing import Any

from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request

HELD_RESPONSE = "utter_requests_held"


async def task_state(store: Any, sender_id: str) -> dict[str, Any]:
    tracker = await store.retrieve(sender_id)
    if tracker is None or not tracker.active_loop_name:
        return {"task": None, "asks": None}
    asks = tracker.get_slot("requested_slot")
    return {"task": tracker.active_loop_name, "asks": asks if isinstance(asks, str) else None}


async def held_notice(nlg: Any, sender_id: str, requests: list[str]) -> list[dict[str, Any]]:
    # Quoted as said, less the closing punctuation the notice's own sentence ends with.
    quoted = "; ".join(f"\u201c{text.rstrip(' ?.!')}\u201d" for text in requests)
    message = await nlg.generate(
        HELD_RESPONSE, DialogueStateTracker(sender_id, []), "rest", requests=quoted
    )
    return [{"recipient_id": sender_id, **message}] if message else []


def add_task_state_route(blueprint: Blueprint) -> None:
    @blueprint.route("/conversations/<conversation_id:str>/task", methods=["GET"])
    async def current_task(request: Request, conversation_id: str) -> Any:
        return response.json(await task_state(request.app.ctx.agent.tracker_store, conversation_id))

    @blueprint.route("/conversations/<conversation_id:str>/held", methods=["POST"])
    async def requests_held(request: Request, conversation_id: str) -> Any:
        body = request.json if isinstance(request.json, dict) else {}
        requests = [str(r) for r in body.get("requests") or [] if isinstance(r, str) and r]
        if not requests:
            return response.json([])
        notice = await held_notice(request.app.ctx.agent.nlg, conversation_id, requests)
        return response.json(notice)
