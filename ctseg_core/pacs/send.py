"""Sending files to an archive (STOW-RS or C-STORE), and a label as the DICOM SEG of the series it was drawn on.

Every file is read before anything is sent: a file that is not DICOM is refused up front, naming
it, rather than half a batch going out.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ctseg_core.errors import CtsegError, PathMissingError
from ctseg_core.io.patient import Patient
from ctseg_core.io.seg import write_dicom_seg
from ctseg_core.pacs.archive import Archive, SendReport
from ctseg_core.progress import CancelCheck, ProgressCallback


def read_for_sending(paths: Sequence[str | Path]) -> list[tuple[Path, Dataset]]:
    """Each file as a data set; a CtsegError naming the first that is missing or not DICOM."""
    datasets: list[tuple[Path, Dataset]] = []
    for given in paths:
        path = Path(given)
        if not path.is_file():
            raise PathMissingError(path, "no such file")
        try:
            dataset = pydicom.dcmread(path)
            dataset.SOPClassUID, dataset.SOPInstanceUID, dataset.file_meta.TransferSyntaxUID  # noqa: B018
        except (InvalidDicomError, AttributeError, OSError, ValueError, EOFError) as error:
            raise CtsegError(path, f"not a DICOM file that can be sent ({type(error).__name__})") from None
        datasets.append((path, dataset))
    return datasets


def send_files(
    archive: Archive,
    paths: Sequence[str | Path],
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> SendReport:
    """Send DICOM files; the report lists any the archive refused."""
    return archive.send(read_for_sending(paths), progress, should_cancel)


def send_label(
    archive: Archive,
    mask: np.ndarray,
    patient: Patient,
    name: str = "liver",
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> SendReport:
    """Send ``mask`` as a DICOM SEG that references ``patient``'s series (written to a temporary file)."""
    with tempfile.TemporaryDirectory(prefix="ctseg-send-") as folder:
        seg = write_dicom_seg(mask, patient, Path(folder) / "label.dcm", name=name)
        return send_files(archive, [seg], progress, should_cancel)
