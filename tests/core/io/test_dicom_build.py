"""The one DICOM image dataset builder: what it writes is what a reader gets back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import CTImageStorage, EnhancedCTImageStorage, SecondaryCaptureImageStorage

from ctseg_core.io.dicom_build import ImagePlane, Rescale, SeriesIds, image_dataset

IDS = SeriesIds("Test^Patient", "P1", "1.2.3.1", "1.2.3.2", "1.2.3.3")


def test_a_ct_slice_reads_back_with_its_geometry_pixels_and_rescale(tmp_path: Path) -> None:
    pixels = (np.arange(12, dtype=np.int16).reshape(3, 4) - 6) * 100
    plane = ImagePlane([-10.0, -20.0, 30.5], [1, 0, 0, 0, 1, 0], [0.7, 0.8], 2.5)
    ds = image_dataset(
        CTImageStorage,
        IDS,
        "CT",
        pixels,
        instance_uid="1.2.3.4",
        instance_number=7,
        plane=plane,
        rescale=Rescale(-1024, 1, "HU"),
        SeriesDescription="test",
    )
    pydicom.dcmwrite(tmp_path / "ct", ds, enforce_file_format=True)
    back = pydicom.dcmread(tmp_path / "ct")
    assert back.file_meta.MediaStorageSOPInstanceUID == back.SOPInstanceUID == "1.2.3.4"
    assert back.SOPClassUID == CTImageStorage and back.Modality == "CT" and back.InstanceNumber == 7
    assert (back.PatientName, back.PatientID, back.SeriesDescription) == ("Test^Patient", "P1", "test")
    assert (back.StudyInstanceUID, back.SeriesInstanceUID, back.FrameOfReferenceUID) == (
        "1.2.3.1",
        "1.2.3.2",
        "1.2.3.3",
    )
    assert [float(v) for v in back.ImagePositionPatient] == [-10.0, -20.0, 30.5]
    assert [float(v) for v in back.PixelSpacing] == [0.7, 0.8] and float(back.SliceThickness) == 2.5
    assert (back.BitsAllocated, back.BitsStored, back.HighBit, back.PixelRepresentation) == (16, 16, 15, 1)
    assert (float(back.RescaleIntercept), float(back.RescaleSlope), back.RescaleType) == (-1024.0, 1.0, "HU")
    np.testing.assert_array_equal(back.pixel_array, pixels)


def test_a_mask_slice_is_8_bit_unsigned_without_rescale_or_thickness(tmp_path: Path) -> None:
    mask = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    plane = ImagePlane([0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], [1.0, 1.0])
    ds = image_dataset(SecondaryCaptureImageStorage, IDS, "OT", mask, plane=plane)
    pydicom.dcmwrite(tmp_path / "mask", ds, enforce_file_format=True)
    back = pydicom.dcmread(tmp_path / "mask")
    assert (back.BitsAllocated, back.PixelRepresentation) == (8, 0)
    assert "RescaleIntercept" not in back and "SliceThickness" not in back and "InstanceNumber" not in back
    assert len(back.SOPInstanceUID) > 10  # a new UID when none is given
    np.testing.assert_array_equal(back.pixel_array, mask)


def test_frames_set_the_number_of_frames() -> None:
    ds = image_dataset(EnhancedCTImageStorage, IDS, "CT", np.zeros((5, 4, 3), np.int16))
    assert (ds.NumberOfFrames, ds.Rows, ds.Columns) == (5, 4, 3)


def test_bad_pixels_and_unknown_keywords_are_refused() -> None:
    with pytest.raises(ValueError, match="integers"):
        image_dataset(CTImageStorage, IDS, "CT", np.zeros((2, 2), np.float32))
    with pytest.raises(KeyError, match="NotAKeyword"):
        image_dataset(CTImageStorage, IDS, "CT", np.zeros((2, 2), np.int16), NotAKeyword=1)
