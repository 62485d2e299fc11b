"""How every engine runs a partition: a failure names the partition and the row that fails alone (pure pandas)."""

from __future__ import annotations

import pandas as pd
import pytest

from features.partitions import PartitionError, run_partition


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"order_id": [f"O{i}" for i in range(40)], "sku": [f"S{i % 7}" for i in range(40)],
                         "customer_id": [f"C{i // 4:02d}" for i in range(40)], "quantity": [1.0] * 40})


def test_the_row_that_fails_alone_is_named_with_its_key_first():
    frame = _frame()
    frame.loc[29, "quantity"] = float("nan")

    def needs_quantities(part: pd.DataFrame) -> pd.DataFrame:
        return part.astype({"quantity": "int64"})

    pd.testing.assert_frame_equal(run_partition(needs_quantities, frame.drop(index=29), what="t", key="sku"),
                                  needs_quantities(frame.drop(index=29)))
    with pytest.raises(PartitionError) as failure:
        run_partition(needs_quantities, frame, what="feature table x", key="customer_id", partition=3, n_partitions=8)
    message = str(failure.value)
    assert message.startswith("feature table x: partition 3 of 8 (by customer_id, 40 rows) failed at the row "
                              "(customer_id='C07', order_id='O29', sku='S1', quantity=null): ")
    assert "IntCastingNaNError" in message and "\n" not in message


def test_a_failure_of_rows_together_says_so_and_memory_errors_pass_through():
    def needs_two_customers(part: pd.DataFrame) -> pd.DataFrame:
        if part["customer_id"].nunique() > 9:
            raise ValueError("too many customers together")
        return part

    with pytest.raises(PartitionError, match=r"on rows together \(customer_id 'C00' to 'C09'\), no single row fails"):
        run_partition(needs_two_customers, _frame(), what="t", key="customer_id")

    def too_big(part: pd.DataFrame) -> pd.DataFrame:
        raise MemoryError

    with pytest.raises(MemoryError):
        run_partition(too_big, _frame(), what="t", key="customer_id")
