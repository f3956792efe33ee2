"""What a plausible cell-plan value is: one range per physical column, shared by every layer.

The D-layer flags a plan value outside its range (and ingests it as null), the C-layer replaces
one it still finds outside by the cell type's default, and the per-type defaults of
``[convergence.radio.<type>]`` are validated against the same ranges. Pure Python (no Spark):
:meth:`Plausible.holds` works on floats, numpy arrays and Spark columns alike.

Examples
--------
>>> PLAUSIBLE["power_w"].holds(0.0), PLAUSIBLE["power_w"].holds(20.0)
(False, True)
>>> str(PLAUSIBLE["tilt_deg"])
'[-30, 60] deg'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULTED", "PLAUSIBLE", "Plausible"]


@dataclass(frozen=True)
class Plausible:
    """The closed range ``[low, high]`` (``(low, high]`` when ``low_open``) of one column."""

    low: float
    high: float
    unit: str
    low_open: bool = False

    def holds(self, value: Any) -> Any:
        """``low <= value <= high`` (``low < value`` when ``low_open``), element-wise."""
        above = value > self.low if self.low_open else value >= self.low
        return above & (value <= self.high)

    def __str__(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}] {self.unit}".rstrip()


#: plausible range of each physical cell-plan column (mast height above ground; tilt positive
#: downwards; 3-dB beam widths; transmit power per cell; planned reach)
PLAUSIBLE: dict[str, Plausible] = {
    "antenna_height_m": Plausible(0.0, 300.0, "m"),
    "azimuth_deg": Plausible(0.0, 360.0, "deg"),
    "tilt_deg": Plausible(-30.0, 60.0, "deg"),
    "beam_h_deg": Plausible(1.0, 359.0, "deg"),
    "beam_v_deg": Plausible(1.0, 180.0, "deg"),
    "power_w": Plausible(0.0, 10_000.0, "W", low_open=True),
    "range_m": Plausible(0.0, 100_000.0, "m", low_open=True),
    "path_loss_exponent": Plausible(1.5, 10.0, ""),
    "frequency_mhz": Plausible(100.0, 100_000.0, "MHz"),
}

#: the columns a cell type has a default for (``[convergence.radio.<type>]``), in the order
#: the C-layer reports them; the azimuth has none (a sector's direction cannot be guessed)
DEFAULTED = tuple(c for c in PLAUSIBLE if c != "azimuth_deg")
