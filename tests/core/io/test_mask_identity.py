"""An IRCAD mask series names one study and one frame of reference, also for a CT that names none."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pydicom

from ctseg_core.io.loading import load_patient
from ctseg_core.io.masks import write_ircad_mask
from ctseg_core.synth.phantom import write_phantom


def _slice_uids(folder: Path, keyword: str) -> set[str]:
    return {str(getattr(pydicom.dcmread(path, stop_before_pixels=True), keyword)) for path in folder.iterdir()}


def test_a_ct_without_study_or_frame_uids_gets_one_of_each_for_the_whole_mask(tmp_path: Path) -> None:
    patient = load_patient(write_phantom(tmp_path / "p", seed=1, slices=6, size=64))
    anonymous = dataclasses.replace(patient, study_uid="", frame_of_reference_uid="")
    folder = write_ircad_mask(np.asarray(patient.masks["liver"]), anonymous, tmp_path / "out", name="edited")
    assert len(_slice_uids(folder, "StudyInstanceUID")) == 1
    assert len(_slice_uids(folder, "FrameOfReferenceUID")) == 1
    assert len(_slice_uids(folder, "SeriesInstanceUID")) == 1


def test_a_ct_with_uids_passes_them_on(tmp_path: Path) -> None:
    patient = load_patient(write_phantom(tmp_path / "p", seed=1, slices=6, size=64))
    folder = write_ircad_mask(np.asarray(patient.masks["liver"]), patient, tmp_path / "out", name="edited")
    assert _slice_uids(folder, "StudyInstanceUID") == {patient.study_uid}
    assert _slice_uids(folder, "FrameOfReferenceUID") == {patient.frame_of_reference_uid}
