"""Loaders: Online Retail I and II column names, CDNOW, canonical files, and the protocol's counts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.cleaning import customer_model_orders
from features.loaders import detect_format, load, load_cdnow, load_cdnow_transactions, load_online_retail
from shopml.errors import DataValidationError

RETAIL_II = """Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country
489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom
489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,13085.0,United Kingdom
489434,79323p,PINK CHERRY LIGHTS,12,2009-12-01 07:45:00,6.75,13085.0,United Kingdom
C489449,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,-2,2009-12-01 10:33:00,6.95,13085.0,United Kingdom
489450,POST,POSTAGE,1,2009-12-01 10:40:00,18.0,12682.0,France
A506401,B,Adjust bad debt,1,2010-04-29 13:36:00,-53594.36,,United Kingdom
489451,22111,SCOTTIE DOG HOT WATER BOTTLE,3,2009-12-01 11:00:00,4.95,,United Kingdom
489452,22112,CHOCOLATE HOT WATER BOTTLE,-5,2009-12-01 11:05:00,0,,United Kingdom
"""


@pytest.fixture
def retail_ii(tmp_path: Path) -> Path:
    path = tmp_path / "online_retail_II.csv"
    path.write_text(RETAIL_II)
    return path


def test_online_retail_ii_names_and_rules(retail_ii: Path):
    result = load_online_retail(retail_ii, now=pd.Timestamp("2024-01-01"))
    orders = result.orders
    assert detect_format(retail_ii) == "online-retail"
    assert orders["sku"].tolist() == ["85048", "79323P", "85048", "22111"]
    assert orders.loc[orders["order_id"] == "C489449", "quantity"].item() == -2  # cancellation kept as a return
    assert orders.loc[orders["sku"] == "22111", "customer_id"].isna().item()  # guest kept
    assert orders["customer_id"].dropna().unique().tolist() == ["13085"]
    report = result.reports[0]
    assert report.rows_in == 8 and report.kept == 4
    assert report.rejected == {"duplicate": 1, "adjustment": 1, "non product": 1, "non positive price": 1}
    assert len(result.rejected) == 4 and result.rejected["reason"].notna().all()
    assert set(result.tables["products"]["sku"]) == {"85048", "79323P", "22111"}


def test_online_retail_with_missing_column_says_which(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("InvoiceNo,StockCode,Quantity\n1,85048,2\n")
    with pytest.raises(DataValidationError, match="missing Online Retail column.*Description"):
        load_online_retail(path)


def test_cdnow_keeps_every_transaction_and_rejects_zero_value_lines(tmp_path: Path):
    path = tmp_path / "cdnow.txt"
    path.write_text(" 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n 00018 0002 19970101  1    0.00\n")
    tx = load_cdnow_transactions(path)
    assert tx["customer_id"].tolist() == ["4", "4", "18"]
    result = load_cdnow(path, now=pd.Timestamp("2024-01-01"))
    assert len(result.orders) == 2 and result.reports[0].rejected == {"non positive price": 1}
    assert result.orders["unit_price"].round(3).tolist() == [14.665, 14.865]


FIXTURES = Path(__file__).parent / "fixtures"


def test_cdnow_master_and_sample_layouts_give_the_same_transactions():
    """The full master file (4 columns, header line) and the sample (5 columns, no header) hold the same rows."""
    master = load_cdnow_transactions(FIXTURES / "cdnow_master.txt")
    sample = load_cdnow_transactions(FIXTURES / "cdnow_sample.txt")
    pd.testing.assert_frame_equal(master, sample)
    assert master["customer_id"].tolist() == ["4", "4", "4", "18", "21"]
    assert master["units"].sum() == 9 and master["ordered_at"].min() == pd.Timestamp("1997-01-01")
    result = load(FIXTURES / "cdnow_master.txt", "cdnow", now=pd.Timestamp("2024-01-01"))
    assert len(result.orders) == 4 and result.reports[0].rejected == {"non positive price": 1}


def test_cdnow_master_as_csv_is_detected(tmp_path: Path):
    path = tmp_path / "master.csv"
    path.write_text((FIXTURES / "cdnow_master.txt").read_text().replace(" ", ","))
    assert detect_format(path) == "cdnow"
    assert len(load_cdnow_transactions(path)) == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customer date cds dollars\n00001 19970101 1 11.77\n00002 1997x112 1 12.00\n",
         r"1 row\(s\) whose date is not a date written YYYYMMDD, e.g. line 3 \('1997x112'\)"),
        ("00001 19970101 1.5 11.77\n", r"whose CDs is not a whole number of CDs, e.g. line 1 \('1.5'\)"),
        ("00001 19970101 1 11.77 x y\n", r"6 columns; a CDNOW file has 5 columns .* or 4 columns"),
    ],
)
def test_cdnow_errors_name_the_line_column_and_value(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(DataValidationError, match=message):
        load_cdnow_transactions(path)


def test_canonical_folder_round_trip_rejects_unknown_skus(tmp_path: Path):
    orders = pd.DataFrame({
        "order_id": ["1", "2"], "customer_id": ["a", "b"], "sku": ["X", "Y"], "quantity": [1, 2],
        "unit_price": [1.0, 2.0], "ordered_at": pd.to_datetime(["2023-01-01", "2023-01-02"]), "country": ["UK", "UK"],
    })
    products = pd.DataFrame({"sku": ["X"], "description": ["x"], "category": ["c"], "price": [1.0]})
    orders.to_parquet(tmp_path / "orders.parquet")
    products.to_csv(tmp_path / "products.csv", index=False)
    result = load(tmp_path, now=pd.Timestamp("2024-01-01"))
    assert result.orders["sku"].tolist() == ["X"]
    assert result.rejected["rule"].tolist() == ["unknown_sku"]


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.csv")


@pytest.mark.shared_data
def test_online_retail_i_reproduces_the_protocol_counts(shared_data: Path):
    result = load_online_retail(shared_data / "online_retail" / "online_retail_I.csv.gz")
    assert result.reports[0].rows_in == 541_909
    assert result.reports[0].kept + result.reports[0].rejected_total == 541_909
    clean, _ = customer_model_orders(result.orders)
    assert len(clean) == 391_150
    assert clean["customer_id"].nunique() == 4_334
    assert clean["sku"].nunique() == 3_659
