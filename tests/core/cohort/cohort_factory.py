"""Small trees of every layout the cohort index reads, built in the test (tiny images: 8×8 pixels)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
from core.io.dicom_factory import rewrite, write_series
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ctseg_core.io.loading import load_patient
from ctseg_core.io.seg import write_dicom_seg
from ctseg_core.synth.phantom import write_phantom

RT_STRUCTURE_SET = "1.2.840.10008.5.1.4.1.1.481.3"
DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def ircad(folder: Path, seed: int = 1, zipped: bool = False) -> Path:
    """A phantom patient in the IRCAD layout (3 slices of 32²), as folders or as the zips downloaded."""
    write_phantom(folder, seed=seed, slices=3, size=32)
    if zipped:
        for name in ("PATIENT_DICOM", "MASKS_DICOM"):
            with zipfile.ZipFile(folder / f"{name}.zip", "w") as archive:
                for path in sorted((folder / name).rglob("*")):
                    archive.write(path, path.relative_to(folder).as_posix())
            shutil.rmtree(folder / name)
    return folder


def series(
    folder: Path,
    patient: str = "P1",
    study: str = "1.2.3.1",
    count: int = 3,
    names: list[str] | None = None,
    **tags: object,
) -> str:
    """A DICOM series of one patient and study in ``folder``; its SeriesInstanceUID."""
    uid = generate_uid()
    _, paths = write_series(folder, count=count, shape=(8, 8), series_uid=uid, names=names)
    for path in paths:
        rewrite(path, **{"PatientID": patient, "PatientName": f"Name^{patient}", "StudyInstanceUID": study, **tags})
    return uid


def export(root: Path) -> dict[str, str]:
    """A DICOM export: two patients, the second with two studies, several series each, a DICOMDIR,
    file names without extension; the series UIDs by name."""
    uids = {
        "p1_ct": series(root / "PAT1" / "ST1" / "SE1", "P1", "1.2.3.1", names=["IM1", "IM2", "IM3"]),
        "p1_ct2": series(root / "PAT1" / "ST1" / "SE2", "P1", "1.2.3.1", SeriesDescription="venous"),
        "p2_ct": series(root / "PAT2" / "ST1" / "SE1", "P2", "1.2.3.2"),
        "p2_later": series(root / "PAT2" / "ST2" / "SE1", "P2", "1.2.3.3", StudyDate="20240102"),
    }
    (root / "DICOMDIR").write_bytes(b"\0" * 128 + b"DICM" + b"not read")
    return uids


def non_image(path: Path, modality: str, sop_class: str, patient: str = "P1", study: str = "1.2.3.1") -> Dataset:
    """A DICOM object with no pixels (a report, a structure set)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID, ds.PatientName = modality, patient, f"Name^{patient}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, generate_uid()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return ds


def rtstruct(path: Path, referenced_series: str, roi: str = "Liver", study: str = "1.2.3.1") -> None:
    """A structure set whose contours are drawn on ``referenced_series``."""
    ds = non_image(path, "RTSTRUCT", RT_STRUCTURE_SET, study=study)
    roi_item = Dataset()
    roi_item.ROINumber, roi_item.ROIName = 1, roi
    series_item = Dataset()
    series_item.SeriesInstanceUID = referenced_series
    study_item = Dataset()
    study_item.ReferencedSOPInstanceUID = study
    study_item.RTReferencedSeriesSequence = Sequence([series_item])
    frame = Dataset()
    frame.FrameOfReferenceUID = "1.2.3.5"
    frame.RTReferencedStudySequence = Sequence([study_item])
    ds.StructureSetROISequence = Sequence([roi_item])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    ds.save_as(path, enforce_file_format=True)


def seg(path: Path, ct_folder: Path, algorithm_type: str = "MANUAL") -> Path:
    """A DICOM SEG (highdicom, through ctseg's writer) of a box on the CT in ``ct_folder``."""
    patient = load_patient(ct_folder, masks=None)
    mask = np.zeros(patient.shape, bool)
    mask[:, 2:5, 2:5] = True
    return write_dicom_seg(mask, patient, path, algorithm_type=algorithm_type)


def nifti(path: Path, shape: tuple[int, int, int] = (8, 8, 4), label: bool = False) -> Path:
    """A NIfTI volume (CT-like values, or a 0/1 label)."""
    data = np.zeros(shape, np.uint8) if label else np.full(shape, 40, np.int16)
    if label:
        data[2:5, 2:5, :] = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.diag([0.8, 0.8, 2.5, 1.0])), str(path))
    return path
