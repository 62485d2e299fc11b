"""Storefront events: validated and bounded at the door, kept per session within bounds, logged pseudonymously
off the request path; and ``POST /v1/events`` on the running service."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from serving import limits
from serving.errors import describe
from serving.events import EventLog, SessionStore, read_events, session_key
from serving.predictions import PredictionLog
from serving.schemas import EventsRequest
from training.recommend.live import SessionEvent

NOW = datetime.now(UTC)


@pytest.mark.parametrize(("body", "field"), [
    ({"events": []}, "events"),
    ({"events": [{"type": "view", "sku": "A"}]}, "events.0"),
    ({"events": [{"type": "click", "sku": "A", "session_id": "s"}]}, "events.0.type"),
    ({"events": [{"type": "view", "sku": "", "session_id": "s"}]}, "events.0.sku"),
    ({"events": [{"type": "view", "sku": "A", "session_id": 5}]}, "events.0.session_id"),
    ({"events": [{"type": "view", "sku": "A", "session_id": "s", "at": 1700000000}]}, "events.0.at"),
    ({"events": [{"type": "view", "sku": "A", "session_id": "s",
                  "at": (NOW - timedelta(days=8)).isoformat()}]}, "events.0.at"),
    ({"events": [{"type": "view", "sku": "A", "session_id": "s",
                  "at": (NOW + timedelta(hours=1)).isoformat()}]}, "events.0.at"),
    ({"events": [{"type": "view", "sku": "A", "session_id": "s", "at": "9999-12-31T23:59:59-12:00"}]}, "events.0.at"),
    ({"events": [{"type": "view", "sku": "A", "session_id": "s", "colour": "red"}]}, "events.0.colour"),
    ({"events": [{"type": "view", "sku": "A", "session_id": "s"}] * (limits.MAX_EVENTS_PER_REQUEST + 1)}, "events"),
])
def test_bad_events_are_400_naming_the_field(body, field):
    with pytest.raises(ValidationError) as caught:
        EventsRequest.model_validate_json(json.dumps(body))
    status, answer = describe(caught.value)
    assert status == 400 and field in [d["field"] for d in answer["detail"]], answer


def test_a_good_event_without_a_zone_is_utc():
    req = EventsRequest.model_validate_json(json.dumps({"events": [
        {"type": "purchase", "sku": "A", "customer_id": "C1", "at": NOW.replace(tzinfo=None).isoformat()}]}))
    assert req.events[0].at.tzinfo is not None and abs((req.events[0].at - NOW).total_seconds()) < 1


def test_sessions_are_bounded_in_count_length_and_age():
    store = SessionStore(max_sessions=3, max_events=4, window_seconds=100)
    now = 1_000_000.0
    for i in range(10):
        store.add(["s:a"], now + i, f"P{i}", "view")
    assert [e.sku for e in store.recent("s:a", now + 10)] == ["P6", "P7", "P8", "P9"]
    for name in ("b", "c", "d"):
        store.add([f"s:{name}"], now, "P", "view")
    assert len(store) == 3 and store.evicted == 1 and store.recent("s:a", now) == []  # least recently used
    store.add(["s:e"], now, "Q", "view")
    assert store.recent("s:b", now) == []  # b was used least recently (c and d after it)
    assert store.recent("s:e", now + 101) == [] and "s:e" not in store._sessions  # expired and forgotten


def test_late_events_are_kept_in_time_order_and_found_by_either_key():
    store = SessionStore(max_events=3)
    keys = [session_key("S1", None), session_key(None, "C1")]
    store.add(keys, 10.0, "B", "view")
    store.add(keys, 5.0, "A", "add_to_cart")
    store.add(keys, 20.0, "C", "purchase")
    store.add(keys, 1.0, "OLDEST", "view")
    want = [SessionEvent("A", "add_to_cart"), SessionEvent("B", "view"), SessionEvent("C", "purchase")]
    assert store.recent("s:S1", 21.0) == want and store.recent("c:C1", 21.0) == want
    assert session_key("S1", "C1") == "s:S1" and session_key(None, None) is None


def test_the_event_log_is_pseudonymous_with_the_prediction_logs_key(tmp_path):
    predictions = PredictionLog(tmp_path / "predictions")
    log = EventLog(tmp_path / "events", key=predictions.key)
    log.record(time.time(), "view", "P1", "C1", "S1")
    log.record(time.time(), "purchase", "P2", None, "S1")
    assert log.flush() == 2
    frame = read_events(tmp_path / "events")
    assert list(frame["type"]) == ["view", "purchase"] and list(frame["sku"]) == ["P1", "P2"]
    assert frame["customer"][0] == predictions.subject("C1") != "C1" and frame["customer"].isna()[1]
    assert frame["session"][0] == frame["session"][1] == predictions.subject("S1")
    assert "C1" not in frame.to_csv() and "S1" not in frame.to_csv()


def test_events_on_the_service(server, shop, needs):
    needs("recommender")
    from shopml.settings import load_settings
    from training.recommend import Recommender
    from training.registry import load_champion

    recommender, _ = load_champion(Recommender, load_settings(data_home=shop.home))
    skus = [str(s) for s in recommender.skus[:3]]
    body = {"events": [{"type": "view", "sku": skus[0], "session_id": "visitor-1"},
                       {"type": "add_to_cart", "sku": skus[1], "session_id": "visitor-1"},
                       {"type": "view", "sku": "NOT-A-SKU", "session_id": "visitor-1"}]}
    status, answer = server.call("POST", "/v1/events", body, key="storefront")
    assert status == 200 and answer == {"accepted": 3, "unknown_skus": ["NOT-A-SKU"]}
    assert server.call("POST", "/v1/events", body, key="marketing")[0] == 403
    assert server.call("POST", "/v1/events", body)[0] == 401
    status, answer = server.call("POST", "/v1/events", {"events": [{"type": "view", "sku": "A"}]}, key="storefront")
    assert status == 400 and answer["detail"][0]["field"] == "events.0"
    status, answer = server.call("POST", "/v1/recommend", {"session_id": "visitor-1", "k": 5}, key="storefront")
    assert status == 200 and answer["session_events"] == 2  # the unknown SKU shapes nothing
    assert skus[1] not in [i["sku"] for i in answer["items"]]  # in the cart
    assert "session" in {i["source"] for i in answer["items"]}
    status, plain = server.call("POST", "/v1/recommend", {"session_id": "someone-else", "k": 5}, key="storefront")
    assert plain["session_events"] == 0 and "session" not in {i["source"] for i in plain["items"]}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        frame = read_events(shop.home / "events")
        if len(frame) >= 3:
            break
        time.sleep(0.5)
    assert {"view", "add_to_cart"} <= set(frame["type"]) and "visitor-1" not in set(frame["session"])
