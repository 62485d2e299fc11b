"""Validation: every rule rejects what it should, counts add up, and nothing is dropped silently."""

from __future__ import annotations

import pandas as pd
import pytest

from features.contracts import ORDERS, STOCK
from features.validation import validate
from shopml.errors import DataValidationError

NOW = pd.Timestamp("2024-01-01")


def _orders(**overrides: list) -> pd.DataFrame:
    base = {
        "order_id": ["o1", "o1", "o2", "o3"],
        "customer_id": ["c1", "c1", None, "c2"],
        "sku": ["A", "B", "A", "B"],
        "quantity": ["2", "1", "3", "-1"],
        "unit_price": ["1.5", "2.0", "1.5", "2.0"],
        "ordered_at": ["2023-01-01 10:00", "2023-01-01 10:00", "2023-02-01", "2023-03-01"],
        "country": ["UK", "UK", "FR", "UK"],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def test_clean_rows_pass_with_contract_dtypes_and_returns_and_guests_kept():
    result = validate(_orders(), ORDERS, now=NOW)
    assert len(result.valid) == 4 and result.rejected.empty
    assert result.valid.dtypes.astype(str).to_dict() == ORDERS.dtypes
    assert result.report.notes["return or cancellation lines kept (negative quantity)"] == 1
    assert result.report.notes["guest lines kept (no customer_id)"] == 1


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("quantity", "two", "wrong_type"),
        ("quantity", "1.5", "wrong_type"),
        ("quantity", "0", "zero_quantity"),
        ("unit_price", "0", "non_positive_price"),
        ("unit_price", "-3", "non_positive_price"),
        ("ordered_at", "not a date", "wrong_type"),
        ("ordered_at", "2030-01-01", "future_timestamp"),
        ("sku", None, "null_key"),
        ("order_id", "  ", "null_key"),
    ],
)
def test_each_rule_rejects_only_the_bad_row_with_its_reason(column, value, rule):
    frame = _orders()
    frame.loc[2, column] = value
    result = validate(frame, ORDERS, now=NOW)
    assert result.rejected["row"].tolist() == [2]
    assert result.rejected["rule"].tolist() == [rule]
    assert column in result.rejected["reason"].iloc[0] or rule in ("zero_quantity", "non_positive_price", "future_timestamp")
    assert result.report.kept + result.report.rejected_total == len(frame)


def test_duplicate_lines_keep_the_first():
    frame = pd.concat([_orders(), _orders().iloc[[0]]], ignore_index=True)
    result = validate(frame, ORDERS, now=NOW)
    assert result.rejected["row"].tolist() == [4]
    assert result.rejected["rule"].tolist() == ["duplicate"]


def test_unknown_skus_are_rejected_when_the_catalogue_is_known():
    result = validate(_orders(), ORDERS, known_skus=["A"], now=NOW)
    assert sorted(result.rejected["row"]) == [1, 3]
    assert set(result.rejected["rule"]) == {"unknown_sku"}


def test_nothing_is_lost_valid_plus_rejected_is_the_input():
    frame = _orders(quantity=["x", "1", "0", "2"], unit_price=["1", "-1", "1", "1"])
    result = validate(frame, ORDERS, now=NOW)
    assert len(result.valid) + len(result.rejected) == len(frame)
    assert sorted(result.rejected["row"]) == [0, 1, 2]
    assert result.report.rejected == {"wrong type": 1, "non positive price": 1, "zero quantity": 1}


def test_missing_columns_name_the_columns_and_the_fix():
    with pytest.raises(DataValidationError, match=r"missing column\(s\) unit_price, country.*Rename"):
        validate(_orders().drop(columns=["unit_price", "country"]), ORDERS)


def test_strict_mode_names_column_count_and_examples():
    frame = _orders(unit_price=["0", "1", "-2", "1"])
    with pytest.raises(DataValidationError) as info:
        validate(frame, ORDERS, strict=True, now=NOW)
    message = str(info.value)
    assert message.startswith("orders.unit_price: 2 row(s) rejected")
    assert "row 0" in message and "row 2" in message and "Fix:" in message


def test_keyed_tables_reject_repeated_keys_and_negative_stock():
    stock = pd.DataFrame({"warehouse_id": ["w1", "w1", "w2"], "sku": ["A", "A", "B"], "on_hand": [1, 2, -1]})
    result = validate(stock, STOCK, known_warehouses=["w1", "w2"])
    assert dict(zip(result.rejected["row"], result.rejected["rule"], strict=True)) == {1: "duplicate", 2: "negative_value"}
