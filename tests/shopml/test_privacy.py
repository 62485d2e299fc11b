"""Pseudonyms, the identity vault, tombstones, the erasure rewriter and the id scanner, one by one."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from features.identities import Ingestion, add_tombstone, privacy_dir, pseudonymise
from shopml.erasure import REDACTED, erase_files
from shopml.errors import ShopmlError
from shopml.idscan import IdScanner
from shopml.privacy import Edge, Pseudonyms, Vault, tombstone
from shopml.settings import load_settings

SECRET = b"s" * 32


def test_pseudonyms_are_keyed_stable_and_keep_guests_null():
    one, other = Pseudonyms(SECRET), Pseudonyms(b"t" * 32)
    assert one.of("17850") == one.of("17850") != other.of("17850")
    assert one.of(None) is None and len(one.of("x")) == 32
    column = pd.Series(["a", None, "b", "a"])
    hashed = one.series(column)
    assert hashed.isna().tolist() == [False, True, False, False]
    assert hashed[0] == hashed[3] == one.of("a") and hashed[2] == one.of("b")


def test_the_vault_opens_only_under_its_secret_and_for_its_own_row():
    vault = Vault(SECRET)
    sealed = vault.seal(["p1", "p2"], ["alice", "bob"])
    assert b"alice" not in b"".join(sealed["sealed"])
    assert vault.open("p1", sealed["sealed"][0]) == "alice"
    with pytest.raises(ShopmlError, match="another privacy secret"):
        Vault(b"t" * 32).open("p1", sealed["sealed"][0])
    with pytest.raises(ShopmlError):
        vault.open("p2", sealed["sealed"][0])  # a sealed id moved to another row


def test_ingestion_pseudonymises_every_table_and_keeps_tombstoned_customers_out(tmp_path):
    settings = load_settings(data_home=tmp_path)
    orders = pd.DataFrame({"customer_id": ["1", "2", None, "1", "3"], "q": [1, 2, 3, 4, 5]})
    customers = pd.DataFrame({"customer_id": ["1", "2", "3"]})
    first = Ingestion(settings)({"orders": orders, "customers": customers})
    assert not set(first.tables["orders"]["customer_id"].dropna()) & {"1", "2", "3"}
    assert len(first.vault) == 3

    secret = load_settings(data_home=tmp_path)
    from shopml.privacy import tombstone_secret

    add_tombstone(privacy_dir(tmp_path), tombstone(tombstone_secret(secret), "1"))
    ingestion = Ingestion(settings)
    again = ingestion({"orders": orders, "customers": customers})
    assert ingestion.kept_out == {"orders": 2, "customers": 1}
    assert len(again.tables["orders"]) == 3 and len(again.vault) == 2
    # the same customers get the same pseudonyms across loads: joins with older logs keep working
    assert set(again.tables["customers"]["customer_id"]) < set(first.tables["customers"]["customer_id"])


def test_float_ids_read_from_a_spreadsheet_get_the_same_pseudonym_as_their_string_form():
    pseudonyms, vault = Pseudonyms(SECRET), Vault(SECRET)
    done = pseudonymise({"rejected": pd.DataFrame({"customer_id": [17850.0, None]})}, pseudonyms, vault,
                        tombstone_secret=b"x" * 32)
    assert done.tables["rejected"]["customer_id"][0] == pseudonyms.of("17850")


def test_the_edge_refuses_a_data_home_pseudonymised_under_another_secret(tmp_path, monkeypatch):
    from features.store import save_tables

    settings = load_settings(data_home=tmp_path)
    ingestion = Ingestion(settings)
    done = ingestion({"customers": pd.DataFrame({"customer_id": ["c1"], "country": ["UK"],
                                                 "first_order_at": pd.to_datetime(["2024-01-01"])})})
    save_tables({}, settings.raw_dir, source="test", extras={"identities.parquet": done.vault},
                identities=ingestion.manifest)
    edge = Edge(settings)
    inner = edge.inward("c1")
    assert edge.pseudonymised and edge.present(inner) and edge.outward(inner) == "c1"
    assert not edge.present(edge.inward("someone else"))
    monkeypatch.setenv("SHOPML_PRIVACY_SECRET", "another secret of 16+ chars")
    with pytest.raises(ShopmlError, match="another privacy secret"):
        Edge(load_settings(data_home=tmp_path))


def test_erasure_rewrites_each_kind_of_file_and_lists_what_it_cannot(tmp_path):
    who = "4f3c9d2a1b0e8f7a6c5d4e3f2a1b0c9d"
    pd.DataFrame({"customer_id": [who, "other", who], "v": [1, 2, 3]}).to_parquet(tmp_path / "t.parquet",
                                                                                 compression="zstd")
    (tmp_path / "a.csv").write_text(f"customer_id,v\n{who},1\nother,2\n")
    (tmp_path / "input_example.json").write_text(json.dumps({"data": [[who, 1.0]]}))
    np.savez(tmp_path / "recommender.npz", customer_ids=np.array(["other", who]), ranked=np.arange(4))
    (tmp_path / "model.pkl").write_bytes(pickle.dumps([who]))
    (tmp_path / "clean.json").write_text("{}")
    report = erase_files(tmp_path, [who])
    assert report.scanned == 6 and report.rows_removed == 3 and report.leftovers == [str(tmp_path / "model.pkl")]
    assert pd.read_parquet(tmp_path / "t.parquet")["customer_id"].tolist() == ["other"]
    assert who not in (tmp_path / "a.csv").read_text() and "other,2" in (tmp_path / "a.csv").read_text()
    assert json.loads((tmp_path / "input_example.json").read_text()) == {"data": [[REDACTED, 1.0]]}
    with np.load(tmp_path / "recommender.npz") as z:
        assert z["customer_ids"].tolist() == ["other", ""] and z["ranked"].tolist() == [0, 1, 2, 3]
    assert not list(tmp_path.glob(".*erasing"))  # nothing half-written left behind
    assert IdScanner([who]).scan([tmp_path], skip=[tmp_path / "model.pkl"]).raw_ids_found == 0


def test_the_scanner_matches_whole_ids_not_parts_of_longer_ones(tmp_path):
    (tmp_path / "a.txt").write_text("cust-100012 cust-1000 xcust-10001 [cust-10001]")
    report = IdScanner(["cust-10001"]).scan([tmp_path])
    assert report.raw_ids_found == 1 and report.hits == [(str(tmp_path / "a.txt"), "cust-10001")]
    (tmp_path / "a.txt").write_text("cust-100012 cust-1000")
    assert IdScanner(["cust-10001"]).scan([tmp_path]).raw_ids_found == 0
