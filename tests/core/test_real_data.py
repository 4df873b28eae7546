"""The three real 3D-IRCADb-01 patients in ../shared/data, as downloaded (zips)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from ctseg_core.io.patient import Patient
from ctseg_core.io.loading import load_patient
from ctseg_core.io.summary import hu_sha256, mask_sha256

#: patient number → (slices, pixel spacing mm), from the data set's README
IRCAD_PATIENTS = {1: (129, 0.57), 7: (151, 0.78), 17: (119, 0.74)}

_cache: dict[int, Patient] = {}


def _zipped(root: Path, number: int) -> Patient:
    if number not in _cache:
        _cache[number] = load_patient(root / f"3Dircadb1.{number}", masks=["liver"])
    return _cache[number]


@pytest.mark.parametrize("number", sorted(IRCAD_PATIENTS))
def test_shape_spacing_and_liver_hu(ircad_root: Path, number: int) -> None:
    slices, pixel = IRCAD_PATIENTS[number]
    patient = _zipped(ircad_root, number)
    assert patient.shape == (slices, 512, 512)
    assert patient.slice_order == "position"
    assert patient.spacing_mm[0] == pytest.approx(1.6, abs=1e-3)
    assert patient.spacing_mm[1] == pytest.approx(pixel, abs=0.01)
    assert patient.hu.min() >= -1025 and patient.hu.max() <= 1025
    liver = patient.masks["liver"]
    assert 1000 < patient.spacing_mm[0] * np.prod(patient.spacing_mm[1:]) * liver.sum() / 1000 < 3500  # mL
    assert 60 <= float(patient.hu[liver].mean()) <= 160, "liver mean HU outside the plausible range"
    assert {"liver", "bone"} <= set(patient.available_masks)


def test_zipped_and_unzipped_load_identically(ircad_root: Path, tmp_path: Path) -> None:
    folder = ircad_root / "3Dircadb1.1"
    with zipfile.ZipFile(folder / "PATIENT_DICOM.zip") as zf:
        zf.extractall(tmp_path)
    with zipfile.ZipFile(folder / "MASKS_DICOM.zip") as zf:
        zf.extractall(tmp_path, [n for n in zf.namelist() if n.startswith("MASKS_DICOM/liver/")])
    unzipped = load_patient(tmp_path, masks=["liver"])
    zipped = _zipped(ircad_root, 1)
    assert hu_sha256(unzipped.hu) == hu_sha256(zipped.hu)
    assert mask_sha256(unzipped.masks["liver"]) == mask_sha256(zipped.masks["liver"])
    assert unzipped.spacing_mm == zipped.spacing_mm
