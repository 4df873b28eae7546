"""The loaded patient: canonical HU volume, geometry, masks and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ctseg_core.geometry import VolumeGeometry
from ctseg_core.io.series import SeriesSummary


@dataclass
class Patient:
    """One CT series in HU with its geometry, masks and provenance.

    ``hu`` is int16 [z, y, x], ordered by increasing position along the slice normal;
    masks are bool arrays of the same shape.
    """

    hu: np.ndarray
    geometry: VolumeGeometry
    slice_order: str
    source_path: Path
    patient_name: str = ""
    patient_id: str = ""
    series_uid: str = ""
    study_uid: str = ""
    frame_of_reference_uid: str = ""
    series_description: str = ""
    slice_names: list[str] = field(default_factory=list)
    sop_instance_uids: list[str] = field(default_factory=list)
    slice_positions_mm: np.ndarray | None = None
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    mask_sources: dict[str, object] = field(default_factory=dict)
    other_series: list[SeriesSummary] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    load_seconds: float = 0.0

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.hu.shape)  # type: ignore[return-value]

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return self.geometry.spacing_mm

    @property
    def available_masks(self) -> list[str]:
        """Mask names that exist for this patient, loaded or not."""
        return sorted(set(self.mask_sources) | set(self.masks))

    def positions_along_normal(self) -> np.ndarray:
        """Each slice's position along the slice normal (mm): measured, else from the geometry."""
        if self.slice_positions_mm is not None:
            return np.asarray(self.slice_positions_mm, dtype=np.float64)
        normal = self.geometry.normal
        return np.array([float(np.dot(normal, self.geometry.slice_position_mm(k))) for k in range(self.shape[0])])

    def slice_z_mm(self, index: int) -> float:
        """Position of slice ``index`` along the slice normal (mm), for display."""
        if self.slice_positions_mm is not None:
            return float(self.slice_positions_mm[index])
        return float(np.dot(self.geometry.normal, self.geometry.slice_position_mm(index)))

    def title(self) -> str:
        """Short human label: patient name and series description."""
        name = self.patient_name.replace("^", " ").strip() or self.source_path.name
        return f"{name} — {self.series_description}" if self.series_description else name
