"""Check rows against a :mod:`features.contracts` contract and say exactly what was rejected and why.

:func:`validate` never drops a row silently: every rejected row lands in ``ValidationResult.rejected`` with
its original position (``row``) and one ``reason``, and :class:`ValidationReport` counts kept and rejected
rows per reason. In strict mode the first problem found raises one :class:`DataValidationError` that names
the column, how many rows are affected, a few example rows, and the fix.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contracts import FLOAT, INT, STRING, TIMESTAMP, TableContract
from shopml.errors import DataValidationError

EXAMPLES_IN_MESSAGES = 5


@dataclass(frozen=True)
class Rule:
    """One reason a row can be rejected, with the fix a user should apply."""

    code: str
    column: str
    fix: str


@dataclass
class ValidationReport:
    """Counts of what a validation kept and rejected, per reason."""

    table: str
    rows_in: int
    kept: int
    rejected: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "rows_in": self.rows_in,
            "kept": self.kept,
            "rejected": dict(self.rejected),
            "notes": dict(self.notes),
        }

    def lines(self) -> list[str]:
        """Human-readable summary lines, one per reason."""
        out = [f"{self.table}: {self.rows_in:,} rows in, {self.kept:,} kept, {self.rejected_total:,} rejected"]
        out += [f"  rejected {n:,}: {reason}" for reason, n in sorted(self.rejected.items(), key=lambda kv: -kv[1])]
        out += [f"  note {n:,}: {what}" for what, n in self.notes.items()]
        return out


@dataclass
class ValidationResult:
    """Valid rows in contract dtypes, rejected rows with a reason each, and the counts."""

    valid: pd.DataFrame
    rejected: pd.DataFrame
    report: ValidationReport


class _Rejections:
    """Collects the first reason for each rejected row, in rule order."""

    def __init__(self, n_rows: int) -> None:
        self.reason = np.full(n_rows, None, dtype=object)
        self.code = np.full(n_rows, None, dtype=object)

    def add(self, mask: np.ndarray, rule: Rule, message: str | np.ndarray) -> None:
        fresh = np.asarray(mask, dtype=bool) & (self.code == None)  # noqa: E711 - elementwise on object array
        if not fresh.any():
            return
        self.code[fresh] = rule.code
        self.reason[fresh] = message if isinstance(message, str) else message[fresh]

    @property
    def mask(self) -> np.ndarray:
        return self.code != None  # noqa: E711


RULES = {
    "wrong_type": "convert the value to the column's type or remove the row",
    "null_key": "fill the missing value or remove the row",
    "duplicate": "remove the repeated line (exact duplicates count once)",
    "non_positive_price": "prices must be > 0; fix the price or drop the line if it is not a sale",
    "zero_quantity": "a line must move at least one unit; drop lines with quantity 0",
    "future_timestamp": "timestamps must not be after the load time; fix the clock or the time zone",
    "unknown_sku": "add the SKU to the products table or correct the code",
    "unknown_reference": "add the referenced row to its table or correct the id",
    "out_of_range": "use a value inside the documented range",
    "negative_value": "use a value >= 0",
}


def validate(
    frame: pd.DataFrame,
    contract: TableContract,
    *,
    known_skus: Collection[str] | None = None,
    known_warehouses: Collection[str] | None = None,
    now: pd.Timestamp | None = None,
    strict: bool = False,
    check_duplicates: bool = True,
) -> ValidationResult:
    """Validate ``frame`` against ``contract``.

    Parameters
    ----------
    frame
        Rows to check; columns may arrive as strings (from CSV) and are converted to the contract's dtypes.
    contract
        The canonical table the rows must satisfy.
    known_skus, known_warehouses
        When given, rows referring to other SKUs / warehouses are rejected as unknown references.
    now
        Timestamps after ``now`` are rejected (default: the current time).
    strict
        Raise :class:`DataValidationError` on the first rule any row breaks instead of rejecting rows.
    check_duplicates
        Reject repeated keys (or exact duplicate lines for tables without a key). Loaders that already
        removed exact duplicates of the richer source rows turn this off.
    """
    _check_columns(frame, contract)
    n = len(frame)
    rejections = _Rejections(n)
    converted = {}
    for column in contract.columns:
        values, bad = _convert(frame[column.name], column.dtype)
        converted[column.name] = values
        if bad.any():
            shown = frame[column.name].astype("str").to_numpy()
            rejections.add(
                bad,
                Rule("wrong_type", column.name, RULES["wrong_type"]),
                np.char.add(f"{column.name}: not a valid {column.dtype}: ", shown.astype("U64")),
            )
    typed = pd.DataFrame(converted, index=frame.index)[contract.column_names]

    for column in contract.columns:
        if not column.nullable:
            missing = typed[column.name].isna().to_numpy() & ~rejections.mask
            rejections.add(missing, Rule("null_key", column.name, RULES["null_key"]), f"{column.name}: missing")

    _table_rules(typed, contract, rejections, known_skus=known_skus, known_warehouses=known_warehouses, now=now)

    if check_duplicates:
        dup_subset = list(contract.key) or contract.column_names
        duplicated = typed.duplicated(subset=dup_subset, keep="first").to_numpy() & ~rejections.mask
        what = "same key " + ", ".join(contract.key) if contract.key else "exact duplicate line"
        rejections.add(duplicated, Rule("duplicate", ",".join(dup_subset), RULES["duplicate"]), f"duplicate: {what}")

    if strict and rejections.mask.any():
        raise _strict_error(frame, contract, rejections)

    keep = ~rejections.mask
    valid = typed.loc[keep].astype(contract.dtypes).reset_index(drop=True)
    rejected = frame.loc[~keep].copy()
    rejected.insert(0, "row", np.flatnonzero(~keep))
    rejected["reason"] = rejections.reason[~keep]
    rejected["rule"] = rejections.code[~keep]
    rejected = rejected.reset_index(drop=True)
    counts = pd.Series(rejections.code[~keep]).value_counts()
    report = ValidationReport(
        table=contract.name,
        rows_in=n,
        kept=int(keep.sum()),
        rejected={_reason_label(code): int(c) for code, c in counts.items()},
    )
    if contract.name == "orders" and len(valid):
        returns = int((valid["quantity"] < 0).sum())
        if returns:
            report.notes["return or cancellation lines kept (negative quantity)"] = returns
        guests = int(valid["customer_id"].isna().sum())
        if guests:
            report.notes["guest lines kept (no customer_id)"] = guests
    return ValidationResult(valid=valid, rejected=rejected, report=report)


def _reason_label(code: str) -> str:
    return code.replace("_", " ")


def _check_columns(frame: pd.DataFrame, contract: TableContract) -> None:
    missing = [c for c in contract.column_names if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{contract.name}: missing column(s) {', '.join(missing)}; expected columns "
            f"{', '.join(contract.column_names)} (found {', '.join(map(str, frame.columns)) or 'none'}). "
            "Rename the columns or pick the right --format."
        )


def _convert(values: pd.Series, dtype: str) -> tuple[pd.Series, np.ndarray]:
    """Convert to ``dtype``; also return which non-null inputs could not be converted."""
    was_null = values.isna().to_numpy()
    if dtype == STRING:
        out = values.astype("str").where(~was_null)
        out = out.str.strip().astype("str")
        out = out.where(out != "")
        return out.astype("str"), np.zeros(len(values), dtype=bool)
    if dtype == TIMESTAMP:
        if pd.api.types.is_datetime64_any_dtype(values):
            out = values
            if getattr(out.dt, "tz", None) is not None:
                out = out.dt.tz_localize(None)
        else:
            out = pd.to_datetime(values, errors="coerce", format="mixed")
        out = out.astype(TIMESTAMP)
        return out, out.isna().to_numpy() & ~was_null
    numeric = values if pd.api.types.is_numeric_dtype(values) else pd.to_numeric(values, errors="coerce")
    numeric = numeric.astype("float64")
    bad = (numeric.isna().to_numpy() | ~np.isfinite(numeric.fillna(0).to_numpy())) & ~was_null
    if dtype == INT:
        fractional = (numeric.fillna(0) % 1 != 0).to_numpy()
        bad |= fractional & ~was_null
        out = numeric.where(~bad & ~was_null).astype("Int64")
        return out, bad
    if dtype == FLOAT:
        return numeric.where(~bad), bad
    raise TypeError(f"unsupported contract dtype {dtype}")


def _table_rules(
    typed: pd.DataFrame,
    contract: TableContract,
    rejections: _Rejections,
    *,
    known_skus: Collection[str] | None,
    known_warehouses: Collection[str] | None,
    now: pd.Timestamp | None,
) -> None:
    cols = set(typed.columns)
    if "unit_price" in cols or "price" in cols:
        price_col = "unit_price" if "unit_price" in cols else "price"
        bad = (typed[price_col] <= 0).fillna(False).to_numpy()
        rejections.add(bad, Rule("non_positive_price", price_col, RULES["non_positive_price"]), f"{price_col} <= 0")
    if "quantity" in cols:
        bad = (typed["quantity"] == 0).fillna(False).to_numpy()
        rejections.add(bad, Rule("zero_quantity", "quantity", RULES["zero_quantity"]), "quantity is 0")
    for ts_col in ("ordered_at", "first_order_at"):
        if ts_col in cols:
            limit = (now if now is not None else pd.Timestamp.now()).as_unit("us")
            bad = (typed[ts_col] > limit).fillna(False).to_numpy()
            rejections.add(
                bad, Rule("future_timestamp", ts_col, RULES["future_timestamp"]), f"{ts_col} after {limit:%Y-%m-%d %H:%M}"
            )
    for col in ("on_hand", "capacity"):
        if col in cols:
            bad = (typed[col] < 0).fillna(False).to_numpy()
            rejections.add(bad, Rule("negative_value", col, RULES["negative_value"]), f"{col} < 0")
    for col, low, high in (("lat", -90, 90), ("lon", -180, 180)):
        if col in cols:
            bad = ((typed[col] < low) | (typed[col] > high)).fillna(False).to_numpy()
            rejections.add(bad, Rule("out_of_range", col, RULES["out_of_range"]), f"{col} outside [{low}, {high}]")
    if known_skus is not None and "sku" in cols and contract.name != "products":
        unknown = ~typed["sku"].isin(pd.Index(known_skus)).to_numpy() & typed["sku"].notna().to_numpy()
        rejections.add(unknown, Rule("unknown_sku", "sku", RULES["unknown_sku"]), "sku not in products")
    if known_warehouses is not None and "warehouse_id" in cols and contract.name != "warehouses":
        unknown = ~typed["warehouse_id"].isin(pd.Index(known_warehouses)).to_numpy()
        rejections.add(
            unknown,
            Rule("unknown_reference", "warehouse_id", RULES["unknown_reference"]),
            "warehouse_id not in warehouses",
        )


def _strict_error(frame: pd.DataFrame, contract: TableContract, rejections: _Rejections) -> DataValidationError:
    codes = pd.Series(rejections.code[rejections.mask])
    first_code = codes.iloc[0]
    rows = np.flatnonzero(rejections.code == first_code)
    reasons = rejections.reason[rows]
    column = str(reasons[0]).split(":")[0].split(" ")[0]
    examples = ", ".join(f"row {r} ({reasons[i]})" for i, r in enumerate(rows[:EXAMPLES_IN_MESSAGES]))
    other = int(rejections.mask.sum()) - len(rows)
    tail = f"; {other} more rows break other rules" if other > 0 else ""
    return DataValidationError(
        f"{contract.name}.{column}: {len(rows)} row(s) rejected ({_reason_label(first_code)}), e.g. {examples}. "
        f"Fix: {RULES[first_code]}{tail}."
    )
