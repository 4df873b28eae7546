"""The whole-volume tools (interpolate, remove islands, keep largest) as jobs that can run on any thread.

They may change every slice and take up to ≈ 0.7 s on a big scan, so they run in three parts: the
session copies the label (:meth:`~ctseg_core.annotate.session.LabelSession.begin_volume_edit`),
:meth:`PendingVolumeEdit.run` applies the core function of ``editing`` to that copy anywhere (a
worker thread in the GUI), and the session writes the slices that changed as one undo step
(:meth:`~ctseg_core.annotate.session.LabelSession.finish_volume_edit`). No Qt here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ctseg_core.annotate import editing
from ctseg_core.annotate.tools import island_min_voxels
from ctseg_core.progress import CancelCheck, ProgressCallback, never_cancel, no_progress, raise_if_cancelled


class VolumeTool(enum.Enum):
    """A tool that may change any slice; the value names its undo step."""

    INTERPOLATE = "Interpolate"
    REMOVE_ISLANDS = "Remove small islands"
    KEEP_LARGEST = "Keep largest component"

    @property
    def stage(self) -> str:
        """What a progress display says while it runs."""
        return {
            VolumeTool.INTERPOLATE: "interpolating",
            VolumeTool.REMOVE_ISLANDS: "removing islands",
            VolumeTool.KEEP_LARGEST: "keeping the largest piece",
        }[self]


def volume_change(
    tool: VolumeTool, spacing_mm: tuple[float, float, float], min_island_ml: float
) -> Callable[[np.ndarray], Any]:
    """The in-place core edit ``tool`` runs on a label, with the CT's spacing (mm) and the island size
    (mL) bound. The ``editing`` function is looked up when the edit runs."""
    if tool is VolumeTool.INTERPOLATE:
        spacing_yx = (spacing_mm[1], spacing_mm[2])
        return lambda label: editing.interpolate_all(label, spacing_yx)
    if tool is VolumeTool.REMOVE_ISLANDS:
        min_voxels = island_min_voxels(min_island_ml, spacing_mm)
        return lambda label: editing.remove_small_islands(label, min_voxels)
    return lambda label: editing.keep_largest_component(label)


@dataclass(frozen=True)
class VolumeEdit:
    """A whole-volume tool's result: the edited copy, the slices where it differs from the label
    it was given, and what the core function returned (e.g. the slices it interpolated)."""

    label: np.ndarray
    changed: list[int]
    result: Any


def edit_volume(
    label: np.ndarray,
    change: Callable[[np.ndarray], Any],
    progress: ProgressCallback = no_progress,
    should_cancel: CancelCheck = never_cancel,
    stage: str = "editing the label",
) -> VolumeEdit:
    """Run an in-place core edit on a copy of ``label``; ``label`` itself is not changed.

    The core tools take no progress callback, so this reports a busy ``stage`` and checks the
    cancel flag before and after (``Cancelled``); finding the changed slices here keeps that pass
    on the calling thread too.
    """
    progress(0, 0, stage)
    raise_if_cancelled(should_cancel)
    edited = label.copy()
    result = change(edited)
    raise_if_cancelled(should_cancel)
    differs = np.any((edited != label).reshape(label.shape[0], -1), axis=1)
    outcome = VolumeEdit(edited, [int(z) for z in np.flatnonzero(differs)], result)
    raise_if_cancelled(should_cancel)
    return outcome


@dataclass(frozen=True, eq=False)
class PendingVolumeEdit:
    """A volume tool started on a label: a copy of the label then, and the core edit to run on it
    (settings such as the island size are bound at the start)."""

    tool: VolumeTool
    before: np.ndarray
    change: Callable[[np.ndarray], Any]

    def run(self, progress: ProgressCallback = no_progress, should_cancel: CancelCheck = never_cancel) -> VolumeEdit:
        """The slow part, on any thread: the core edit applied to a copy of ``before``."""
        return edit_volume(self.before, self.change, progress, should_cancel, self.tool.stage)
