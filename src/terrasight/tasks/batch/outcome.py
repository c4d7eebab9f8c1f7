"""What one pair of a batch gave."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PairOutcome:
    """What one pair gave: ``status`` is ``"done"`` or ``"failed"`` (then ``error`` says why)."""

    name: str
    before: str
    after: str
    status: str
    objects: int = 0
    changed_area: float = 0.0
    area_unit: str = ""
    changed_percent: float = 0.0
    method: str = ""
    unreliable: bool = False
    seconds: float = 0.0
    error: str = ""
    resumed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return asdict(self)
