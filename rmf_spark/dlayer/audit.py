"""The load audit: one row per load, and the accounting identity it must satisfy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession

from rmf_spark.dlayer.schemas import CELLS_AUDIT_SCHEMA, LOAD_AUDIT_SCHEMA
from rmf_spark.errors import RmfError

__all__ = ["AccountingError", "LoadCounts", "cells_audit_row", "load_audit_row"]


class AccountingError(RmfError):
    """Thrown when rows read != rows in bronze + quarantined + duplicates (a bug: nothing is
    written to the audit, and the load should be rerun after the cause is fixed)."""

    code = "ACCOUNTING_MISMATCH"


@dataclass(frozen=True)
class LoadCounts:
    """Counts of one load; :meth:`check` enforces read = bronze + quarantined + duplicates."""

    rows_read: int
    rows_bronze: int
    rows_quarantined: int
    duplicates_removed: int
    quarantined_by_reason: Mapping[str, int] = field(default_factory=dict)

    def check(self, what: str) -> LoadCounts:
        """Return ``self``; raise :class:`AccountingError` naming ``what`` if rows are lost."""
        total = self.rows_bronze + self.rows_quarantined + self.duplicates_removed
        if total != self.rows_read:
            raise AccountingError(
                f"{what}: {self.rows_read} rows read but {self.rows_bronze} in bronze + "
                f"{self.rows_quarantined} quarantined + {self.duplicates_removed} duplicates "
                f"= {total}"
            )
        return self

    def as_metrics(self) -> dict[str, float]:
        """The counts as quality metrics (``rows_*``, ``quarantined_<CODE>``)."""
        out = {
            "rows_read": float(self.rows_read),
            "rows_bronze": float(self.rows_bronze),
            "rows_quarantined": float(self.rows_quarantined),
            "duplicates_removed": float(self.duplicates_removed),
        }
        out.update({f"quarantined_{k}": float(v) for k, v in self.quarantined_by_reason.items()})
        return out


def load_audit_row(
    spark: SparkSession,
    *,
    mno_id: str,
    date: dt.date,
    counts: LoadCounts,
    source_files: Sequence[str],
    key_period_start: dt.date,
    profile: str,
) -> DataFrame:
    """The :data:`LOAD_AUDIT_SCHEMA` row of one events load."""
    row = (
        mno_id,
        list(source_files),
        counts.rows_read,
        counts.rows_bronze,
        counts.rows_quarantined,
        counts.duplicates_removed,
        dict(counts.quarantined_by_reason),
        key_period_start,
        profile,
        dt.datetime.now(dt.UTC).replace(tzinfo=None),
        date,
    )
    return spark.createDataFrame([row], LOAD_AUDIT_SCHEMA)


def cells_audit_row(
    spark: SparkSession,
    *,
    mno_id: str,
    counts: LoadCounts,
    source_files: Sequence[str],
    values_imputed: Mapping[str, int],
) -> DataFrame:
    """The :data:`CELLS_AUDIT_SCHEMA` row of one cell-plan load."""
    row = (
        mno_id,
        list(source_files),
        counts.rows_read,
        counts.rows_bronze,
        counts.rows_quarantined,
        counts.duplicates_removed,
        dict(counts.quarantined_by_reason),
        dict(values_imputed),
        dt.datetime.now(dt.UTC).replace(tzinfo=None),
    )
    return spark.createDataFrame([row], CELLS_AUDIT_SCHEMA)
