"""The pure protocol: no sockets, no Redis, no clock."""

from __future__ import annotations

import json

import pytest

from gateway.chat import frames
from gateway.chat.protocol import (
    CLOSE_AUTH_TIMEOUT,
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHORIZED,
    ChatProtocol,
    Close,
    NewTurn,
    OpenSession,
    PendingTurn,
    RecordRating,
    ReplayTurn,
    Send,
    StartTurn,
    State,
    TurnRecord,
    bot_frames,
    frames_after,
    locale_from_accept_language,
    may_resume,
    origin_allowed,
    owner_of,
    plan_turn,
    rated_reply,
)

MAX = 16 * 1024


def opened() -> ChatProtocol:
    proto = ChatProtocol(MAX)
    proto.receive_text(json.dumps({"type": "hello"}))
    proto.session_opened("s1", resumed=False, user=None, replay=[])
    return proto


def error_code(actions: list) -> str:
    assert isinstance(actions[0], Send)
    assert actions[0].frame["type"] == "error"
    return str(actions[0].frame["code"])


def test_hello_opens_session_and_welcome_comes_first_then_replay() -> None:
    proto = ChatProtocol(MAX)
    actions = proto.receive_text(
        json.dumps({"type": "hello", "session_id": "s1", "last_seq": 3, "token": "t"})
    )
    assert actions == [
        OpenSession(frames.HelloFrame(type="hello", session_id="s1", last_seq=3, token="t"))
    ]
    assert proto.state is State.OPENING
    replay = [{"type": "bot", "seq": 4, "reply_to": "m", "text": "x"}]
    out = proto.session_opened("s1", resumed=True, user="c1", replay=replay)
    assert out == [Send(frames.welcome("s1", True, "c1")), Send(replay[0])]
    assert proto.state is State.OPEN


@pytest.mark.parametrize(
    "first", [{"type": "ping"}, {"type": "message", "client_msg_id": "a", "text": "hi"}]
)
def test_anything_but_hello_first_is_unauthorized_and_closes(first: dict) -> None:
    proto = ChatProtocol(MAX)
    actions = proto.receive_text(json.dumps(first))
    assert error_code(actions) == "unauthorized"
    assert actions[-1] == Close(CLOSE_UNAUTHORIZED)
    assert proto.receive_text(json.dumps({"type": "hello"})) == []


def test_garbage_before_hello_is_bad_request_and_hello_still_accepted() -> None:
    proto = ChatProtocol(MAX)
    assert error_code(proto.receive_text("{nope")) == "bad_request"
    assert isinstance(proto.receive_text('{"type":"hello"}')[0], OpenSession)


def test_hello_timeout_only_while_waiting_for_hello() -> None:
    proto = ChatProtocol(MAX)
    actions = proto.hello_timed_out()
    assert error_code(actions) == "auth_timeout"
    assert actions[-1] == Close(CLOSE_AUTH_TIMEOUT)
    assert opened().hello_timed_out() == []


def test_refused_session_sends_error_and_closes() -> None:
    proto = ChatProtocol(MAX)
    proto.receive_text('{"type":"hello","session_id":"x"}')
    actions = proto.session_refused("forbidden", "not yours", CLOSE_FORBIDDEN)
    assert error_code(actions) == "forbidden"
    assert actions[-1] == Close(CLOSE_FORBIDDEN)
    assert proto.state is State.CLOSED


def test_open_session_handles_ping_message_and_repeated_hello() -> None:
    proto = opened()
    assert proto.receive_text('{"type":"ping"}') == [Send({"type": "pong"})]
    actions = proto.receive_text('{"type":"message","client_msg_id":"m1","payload":"/affirm"}')
    assert isinstance(actions[0], StartTurn)
    assert actions[0].message.content == "/affirm"
    assert error_code(proto.receive_text('{"type":"hello"}')) == "bad_request"


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"no": "type"}',
        '{"type": "dance"}',
        '{"type": "message", "client_msg_id": "m", "text": "a", "payload": "/b"}',
        '{"type": "message", "client_msg_id": "m"}',
        '{"type": "message", "text": "a"}',
        json.dumps({"type": "message", "client_msg_id": "x" * 65, "text": "a"}),
        '{"type": "message", "client_msg_id": "m", "text": ""}',
        "[" * 5000,  # nested past the JSON parser's recursion limit
        '{"type": "message", "client_msg_id": "m", "text": "a", "x": '
        + "[" * 5000
        + "]" * 5000
        + "}",
    ],
)
def test_bad_frames_are_bad_request_and_keep_the_socket(raw: str) -> None:
    proto = opened()
    actions = proto.receive_text(raw)
    assert error_code(actions) == "bad_request"
    assert len(actions) == 1
    assert proto.state is State.OPEN


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"type": "message", "client_msg_id": "m", "text": "a" * 2001}),
        json.dumps({"type": "message", "client_msg_id": "m", "text": "a" * 5000}),
        json.dumps({"type": "message", "client_msg_id": "m", "payload": "/" * 2001}),
    ],
)
def test_text_over_the_limit_is_too_large_and_keeps_the_socket(raw: str) -> None:
    proto = opened()
    actions = proto.receive_text(raw)
    assert error_code(actions) == "too_large"
    assert len(actions) == 1
    assert proto.state is State.OPEN


def test_limits_are_inclusive() -> None:
    proto = opened()
    ok = json.dumps({"type": "message", "client_msg_id": "x" * 64, "text": "a" * 2000})
    assert isinstance(proto.receive_text(ok)[0], StartTurn)


def test_too_large_and_binary() -> None:
    proto = opened()
    big = json.dumps({"type": "message", "client_msg_id": "m", "text": "é" * 9000})
    assert error_code(proto.receive_text(big)) == "too_large"
    assert error_code(proto.receive_bytes(b"{}")) == "bad_request"
    assert proto.state is State.OPEN


def test_plan_turn_dedupe_decisions() -> None:
    assert plan_turn("m1", None) == NewTurn()
    bot = {"type": "bot", "seq": 6, "reply_to": "m1", "text": "hi"}
    done = TurnRecord(seq=5, done=True, frames=(bot,))
    assert plan_turn("m1", done) == ReplayTurn((frames.ack("m1", 5), bot))
    assert plan_turn("m1", TurnRecord(seq=5, done=False)) == PendingTurn(frames.ack("m1", 5))
    assert TurnRecord.from_json(json.loads(json.dumps(done.to_json()))) == done


def test_frames_after_selects_and_orders() -> None:
    stored = [{"type": "bot", "seq": s} for s in (2, 5, 3, 7)]
    assert [f["seq"] for f in frames_after(stored, 3)] == [5, 7]
    assert frames_after(stored, 7) == []
    assert [f["seq"] for f in frames_after(stored, 0)] == [2, 3, 5, 7]


def test_resume_ownership() -> None:
    assert may_resume(owner_of("c1"), "c1")
    assert not may_resume(owner_of("c1"), "c2")
    assert not may_resume(owner_of("c1"), None)
    assert may_resume(owner_of(None), None)
    assert not may_resume(owner_of(None), "c1")


def test_bot_frames_numbering_and_optional_fields() -> None:
    out = bot_frames(
        10,
        "m1",
        [
            {"text": "a", "buttons": [{"title": "Yes", "payload": "/affirm"}]},
            {"image": "https://x/y.png"},
        ],
    )
    assert out == [
        {
            "type": "bot",
            "seq": 10,
            "reply_to": "m1",
            "text": "a",
            "buttons": [{"title": "Yes", "payload": "/affirm"}],
        },
        {"type": "bot", "seq": 11, "reply_to": "m1", "text": "", "image": "https://x/y.png"},
    ]


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        (None, "gw:8000", True),
        ("http://allowed.example", "gw:8000", True),
        ("http://allowed.example/", "gw:8000", True),
        ("http://gw:8000", "gw:8000", True),
        ("https://GW:8000", "gw:8000", True),
        ("http://evil.example", "gw:8000", False),
        ("http://gw:8001", "gw:8000", False),
        ("null", "gw:8000", False),
        ("file://gw:8000", "gw:8000", False),
    ],
)
def test_origin_policy(origin: str | None, host: str, ok: bool) -> None:
    assert origin_allowed(origin, host, {"http://allowed.example"}) is ok


# --- the customer's ratings -------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "feedback", "seq": 4, "value": "down", "comment": "wrong answer"},
        {"type": "feedback", "seq": 4, "value": "up"},
        {"type": "rating", "score": 1},
        {"type": "rating", "score": 5, "comment": "x" * 1000},
    ],
)
def test_ratings_on_an_open_socket_are_to_be_recorded(frame: dict) -> None:
    actions = opened().receive_text(json.dumps(frame))
    assert len(actions) == 1 and isinstance(actions[0], RecordRating)
    assert actions[0].rating.type == frame["type"]


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "feedback", "seq": 0, "value": "up"},
        {"type": "feedback", "seq": 4, "value": "sideways"},
        {"type": "feedback", "seq": True, "value": "up"},
        {"type": "feedback", "seq": 4, "value": "up", "comment": "x" * 501},
        {"type": "rating", "score": 0},
        {"type": "rating", "score": 3.0},
        {"type": "rating"},
        {"type": "rating", "score": 3, "comment": "x" * 1001},
    ],
)
def test_malformed_ratings_are_bad_requests(frame: dict) -> None:
    proto = opened()
    assert error_code(proto.receive_text(json.dumps(frame))) == "bad_request"
    assert proto.state is State.OPEN


def test_a_rating_before_hello_is_refused_like_any_other_frame() -> None:
    actions = ChatProtocol(MAX).receive_text(json.dumps({"type": "rating", "score": 5}))
    assert error_code(actions) == "unauthorized"
    assert actions[-1] == Close(CLOSE_UNAUTHORIZED)


def test_feedback_must_name_a_bot_frame() -> None:
    stored = [
        frames.user(1, "m", "hi"),
        {"type": "bot", "seq": 2, "reply_to": "m", "text": "x"},
        frames.handoff(3, "requested"),
    ]
    assert rated_reply(stored, 2)
    assert not rated_reply(stored, 1) and not rated_reply(stored, 3)
    assert not rated_reply(stored, 9)


def test_an_erased_session_closes_like_a_forbidden_one() -> None:
    proto = opened()
    actions = proto.session_erased()
    assert error_code(actions) == "forbidden"
    assert actions[-1] == Close(CLOSE_FORBIDDEN)
    assert proto.session_erased() == []  # closed already


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de-DE"),
        ("en", "en"),
        ("fr-CH, fr;q=0.9", "fr-CH"),
        (None, None),
        ("", None),
        ("*", None),
        ("<script>", None),
        ("x" * 200, None),
    ],
)
def test_the_locale_is_the_first_language_tag_of_accept_language(
    header: str | None, locale: str | None
) -> None:
    assert locale_from_accept_language(header) == locale
