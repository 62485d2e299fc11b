"""Pseudonymous ids end to end: the demo flow leaves no real customer id anywhere, and erasure leaves no trace.

The shop is generated with ``--id-prefix cust-`` so that a real id cannot be mistaken for a number in a report;
everything else is the demo flow of the README (generate, features, train all, score, reports, the service,
monitoring), run as a user runs it.
"""

from __future__ import annotations

import gzip
import json
import pickle
import sqlite3
import time

import numpy as np
import pandas as pd
import pytest

from tests.serving.conftest import _env, run_shopml, start_server

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def ok(result) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("privacy") / "home"
    env = _env(home)
    ok(run_shopml(["data", "generate", "--id-prefix", "cust-", "--customers", "600", "--products", "120",
                   "--days", "500", "--seed", "7"], env))
    ok(run_shopml(["features", "build"], env))
    ok(run_shopml(["train", "all"], env, timeout=900))
    ok(run_shopml(["score", "audiences"], env))
    ok(run_shopml(["report", "customers"], env))
    ok(run_shopml(["kpi", "report", "-o", str(home / "reports" / "kpi.json")], env))
    customers = pd.read_parquet(home / "data" / "customers.parquet")
    real = [f"cust-{10001 + i}" for i in range(600)]
    server = start_server(env, home.parent / "serve.log", wait_ready=True)
    answers = {}
    try:
        answers["recommend"] = server.call("POST", "/v1/recommend", {"customer_id": real[0], "k": 5}, "storefront")
        answers["events"] = server.call("POST", "/v1/events", {"events": [
            {"type": "view", "customer_id": real[1], "sku": "x-unknown"},
            {"type": "view", "session_id": "s-1", "sku": "x-unknown"}]}, "storefront")
        answers["score"] = server.call("POST", "/v1/customers/score",
                                       {"customer_ids": [real[0], real[1], "cust-nobody"]}, "marketing")
        answers["audience"] = server.call("POST", "/v1/audiences", {"page_size": 50}, "marketing")
        answers["csv"] = server.call("POST", "/v1/audiences", {"format": "csv"}, "marketing")
    finally:
        server.stop()  # flushes the prediction and event logs
    run_shopml(["monitor"], env)  # exits 1 when it flags drift; what matters here is what it writes
    return {"home": home, "env": env, "real": real, "customers": customers, "answers": answers}


def test_the_service_and_cli_speak_callers_ids_while_the_data_home_holds_pseudonyms(demo):
    real = demo["real"]
    inside = set(demo["customers"]["customer_id"].astype(str))
    assert len(inside) == 600 and not inside & set(real)
    assert all(len(c) == 32 for c in inside)
    status, body = demo["answers"]["recommend"]
    assert status == 200 and body["customer_id"] == real[0] and body["known_customer"] is True
    status, body = demo["answers"]["score"]
    assert status == 200, body
    assert [c["customer_id"] for c in body["customers"]] == [real[0], real[1]]
    assert body["unknown"] == ["cust-nobody"]
    status, body = demo["answers"]["audience"]
    assert status == 200 and body["customers"] and {c["customer_id"] for c in body["customers"]} <= set(real)
    status, text = demo["answers"]["csv"]
    assert status == 200 and text.splitlines()[1].split(",")[0] in set(real)


def test_the_cli_takes_and_exports_callers_ids_only_outside_the_data_home(demo, tmp_path):
    env, real = demo["env"], demo["real"]
    assert "known customer;" in ok(run_shopml(["recommend", real[0], "--k", "3"], env))
    out = tmp_path / "campaign.csv"
    ok(run_shopml(["score", "audiences", "--real-ids", "--top", "5", "-o", str(out)], env))
    exported = pd.read_csv(out)["customer_id"].astype(str)
    assert len(exported) == 5 and set(exported) <= set(real)
    refused = run_shopml(["score", "audiences", "--real-ids", "-o", str(demo["home"] / "reports" / "x.csv")], env)
    assert refused.returncode == 2 and "outside the data home" in refused.stderr + refused.stdout
    assert not (demo["home"] / "reports" / "x.csv").exists()


def test_no_real_customer_id_is_stored_anywhere_after_the_demo_flow(demo):
    home = demo["home"]
    assert list((home / "predictions").rglob("*.parquet")), "the prediction log was written"
    assert list((home / "events").rglob("*.parquet")), "the event log was written"
    assert list((home / "mlartifacts").rglob("input_example.json")), "MLflow input examples were written"
    result = run_shopml(["privacy", "scan", "--json"], demo["env"])
    report = json.loads(ok(result))
    assert report["ids_searched"] == 600 and report["files_scanned"] > 100
    assert report["raw_ids_found"] == 0, report["files_with_ids"]


def test_the_scan_finds_a_real_id_planted_in_any_format(demo, tmp_path):
    real = demo["real"][7]
    planted = tmp_path / "planted"
    planted.mkdir()
    pd.DataFrame({"customer_id": [real] + ["x"] * 999, "n": range(1000)}).to_parquet(planted / "a.parquet",
                                                                                     compression="zstd")
    np.savez_compressed(planted / "b.npz", ids=np.array(["a", real]))
    (planted / "c.pkl").write_bytes(pickle.dumps({"ids": [real]}))
    (planted / "d.json.gz").write_bytes(gzip.compress(json.dumps({"top": [real]}).encode()))
    with sqlite3.connect(planted / "e.db") as db:
        db.execute("create table t (v text)")
        db.execute("insert into t values (?)", (real,))
    (planted / "f.html").write_text(f"<td>{real}</td>")
    for name in ("a.parquet", "b.npz", "c.pkl", "d.json.gz", "e.db", "f.html"):
        ids = tmp_path / "ids.txt"
        ids.write_text(real + "\n")
        result = run_shopml(["privacy", "scan", "--ids", str(ids), "--path", str(planted / name), "--json"],
                            demo["env"])
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert str(planted / name) in json.loads(result.stdout)["files_with_ids"]


def test_erasure_leaves_no_trace_and_a_reload_does_not_bring_the_customer_back(demo, tmp_path):
    from serving.parquet_log import log_key
    from shopml.privacy import Pseudonyms, pseudonym
    from shopml.settings import load_settings

    home, env = demo["home"], demo["env"]
    settings = load_settings(data_home=home)
    real = demo["real"][0]  # the customer the service answered and logged
    inner = Pseudonyms.for_settings(settings).of(real)
    logged = pseudonym(log_key(home / "predictions"), inner)
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join([real, inner, logged]) + "\n")
    before = run_shopml(["privacy", "scan", "--ids", str(ids), "--json"], env)
    assert before.returncode == 1 and json.loads(before.stdout)["files_with_ids"], "the customer is stored"

    server = start_server(env, tmp_path / "serve.log", wait_ready=True)
    try:
        assert server.call("POST", "/v1/customers/score", {"customer_ids": [real]}, "marketing")[1]["unknown"] == []
        outcome = json.loads(ok(run_shopml(["privacy", "erase", real, "--reason", "ticket 42", "--json"], env)))
        assert outcome["known"] is True and outcome["rows_removed"] > 0 and outcome["leftovers"] == []
        time.sleep(1.5)  # the running service re-reads the vault within a second
        status, body = server.call("POST", "/v1/customers/score", {"customer_ids": [real]}, "marketing")
        assert status == 200 and body["unknown"] == [real] and body["customers"] == []
        status, body = server.call("POST", "/v1/recommend", {"customer_id": real, "k": 5}, "storefront")
        assert status == 200 and body["known_customer"] is False
        status, body = server.call("POST", "/v1/audiences", {"format": "csv"}, "marketing")
        assert status == 200 and real not in body
    finally:
        server.stop()

    after = json.loads(run_shopml(["privacy", "scan", "--ids", str(ids), "--json"], env).stdout)
    assert after["raw_ids_found"] == 0, after["files_with_ids"]
    verify = run_shopml(["audit", "verify", "--json"], env)
    assert verify.returncode == 0, verify.stdout
    trail = ok(run_shopml(["audit", "show", "--action", "privacy.erase", "--json"], env))
    assert "ticket 42" in trail and real not in trail and inner not in trail

    reload = ok(run_shopml(["data", "generate", "--id-prefix", "cust-", "--customers", "600", "--products", "120",
                            "--days", "500", "--seed", "7"], env))
    assert "kept out by erasure tombstones" in reload
    customers = pd.read_parquet(home / "data" / "customers.parquet")["customer_id"].astype(str)
    orders = pd.read_parquet(home / "data" / "orders.parquet")["customer_id"].dropna().astype(str)
    assert len(customers) == 599 and inner not in set(customers) and inner not in set(orders)
