"""The ``[release]`` section of a profile (see ``docs/present-population.md``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from rmf_spark.config_base import Section

__all__ = ["ReleaseSettings"]


class ReleaseSettings(Section):
    """Disclosure control and exports at the MNO boundary."""

    k: float = Field(15, gt=0, description="threshold: released values under k are suppressed")
    method: Literal["em", "naive", "hmm"] = Field(
        "em", description="estimator whose values leave the MNO"
    )
    secondary_suppression: bool = Field(
        True, description="protect suppressed values against subtraction within a hierarchy"
    )
    export_csv: bool = True
    export_geoparquet: bool = True
    export_sdmx: bool = Field(
        True, description="SDMX-CSV 2.0 data and its SDMX-ML 3.0 data structure (docs/outputs.md)"
    )
    sdmx_agency: str = Field(
        "RMF_SPARK",
        pattern=r"^[A-Za-z][A-Za-z0-9_-]*$",
        description="SDMX agency maintaining the export's data structures (e.g. the office's id)",
    )
    zones_table: str | None = Field(
        None,
        description="Delta table (zone_id, wkt) giving zone polygons for GeoParquet (else none)",
    )
