"""The prediction log: bounded, written off the request path, pseudonymous, rotated; and the real service
records what it answered."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

from serving.predictions import PredictionLog, pseudonym, read_predictions


def test_records_are_written_to_day_partitions_and_read_back(tmp_path):
    log = PredictionLog(tmp_path / "predictions", capacity=1000)
    log.record("recommend", "recommender", "3", log.subject("C1"), ["P1", "P2"])
    log.record("recommend", "recommender", "3", None, ["P9"])
    assert log.flush() == 2 and log.flush() == 0
    frame = read_predictions(tmp_path / "predictions")
    assert list(frame["model_version"]) == ["3", "3"] and json.loads(frame["output"][0]) == ["P1", "P2"]
    assert frame["subject"][0] == pseudonym(log.key, "C1") != "C1" and frame["subject"].isna()[1]
    assert not list((tmp_path / "predictions").rglob("*.tmp"))  # nothing half-written is left


def test_a_flush_converted_in_chunks_writes_every_record_once_in_order(tmp_path):
    """A batch several times :data:`WRITE_CHUNK` long (converted chunk by chunk, handing the GIL over between
    them) is one file per day holding every record, in order, with its time to the millisecond."""
    from serving.parquet_log import WRITE_CHUNK

    log = PredictionLog(tmp_path / "p", capacity=100_000, key=b"k" * 32)
    start = time.time() - 60
    n = 3 * WRITE_CHUNK + 7
    for i in range(n):
        log.append((start + i / 1000, "recommend", "recommender", "1", f"s{i}", [f"SKU{i}", "x"]))
    assert log.flush() == n
    assert len(list((tmp_path / "p").glob("date=*/part-*.parquet"))) <= 2  # a day boundary may split it
    frame = read_predictions(tmp_path / "p").sort_values("logged_at", kind="stable")
    assert frame["subject"].tolist() == [f"s{i}" for i in range(n)]
    assert [json.loads(o)[0] for o in frame["output"]] == [f"SKU{i}" for i in range(n)]
    millis = frame["logged_at"].map(lambda t: round(t.timestamp() * 1000))
    assert millis.tolist() == [round((start + i / 1000) * 1000) for i in range(n)]


def test_the_key_is_stable_per_data_home_and_ids_are_not_stored(tmp_path):
    first, second = PredictionLog(tmp_path / "p"), PredictionLog(tmp_path / "p")
    assert first.key == second.key and first.subject("C1") == second.subject("C1")
    assert PredictionLog(tmp_path / "other").subject("C1") != first.subject("C1")


def test_a_full_buffer_drops_the_oldest_and_counts_them(tmp_path):
    log = PredictionLog(tmp_path / "p", capacity=1000)
    for i in range(1500):
        log.record("recommend", "recommender", "1", str(i), [])
    assert log.dropped == 500
    assert log.flush() == 1000 and log.dropped == 500
    assert read_predictions(tmp_path / "p")["subject"].iloc[0] == "500"  # the newest 1,000 were kept


def test_rotation_deletes_old_days_only(tmp_path):
    log = PredictionLog(tmp_path / "p", keep_days=7)
    today = date(2026, 12, 6)
    for age in (0, 7, 8, 30):
        (tmp_path / "p" / f"date={(today - timedelta(days=age)).isoformat()}").mkdir(parents=True)
    removed = log.rotate(today)
    assert sorted(p.name for p in removed) == ["date=2026-11-06", "date=2026-11-28"]
    assert sorted(p.name for p in (tmp_path / "p").glob("date=*")) == ["date=2026-11-29", "date=2026-12-06"]


def test_the_service_logs_what_it_answered(server, shop, needs):
    needs("recommender")
    status, answer = server.call("POST", "/v1/recommend", {"customer_id": "log-probe", "k": 4}, key="storefront")
    assert status == 200
    root = shop.home / "predictions"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        frame = read_predictions(root, "recommend")
        log = PredictionLog(root)
        mine = frame[frame["subject"] == log.subject("log-probe")]
        if len(mine):
            break
        time.sleep(0.5)
    assert len(mine) >= 1
    assert json.loads(mine["output"].iloc[-1]) == [i["sku"] for i in answer["items"]]
    assert mine["model_version"].iloc[-1] == answer["model_version"]
    status, metrics = server.call("GET", "/metrics")
    assert "shopml_predictions_logged_total" in metrics and "shopml_predictions_dropped_total 0" in metrics
