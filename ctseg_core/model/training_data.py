"""Training patients: discovery, splits by patient, and the on-disk cache of preprocessed slices.

Epochs must not re-read DICOM: each patient is cropped and resized once (the same
``crop_and_resize`` as inference) and cached as compressed npz, keyed by the source path, its
modification time and the input spec.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ctseg_core.io.discovery import find_patients
from ctseg_core.io.patient import Patient
from ctseg_core.model.preprocessing import InputSpec, crop_and_resize, crop_and_resize_mask

PHANTOM_PREFIX = "phantom-"


@dataclass
class CachedPatient:
    """One patient's resized HU stack and liver mask on the network grid."""

    name: str
    source: Path
    hu: np.ndarray  # int16 [z, size, size]
    liver: np.ndarray  # uint8 0/1 [z, size, size]
    synthetic: bool
    slice_spacing_mm: float | None = None  # z spacing, for neighbours at the spec's context_mm


def discover_patients(roots: list[Path]) -> list[Path]:
    """The patients in the roots (:mod:`ctseg_core.io.discovery`'s rule: a patient, or a parent of patients)."""
    found: list[Path] = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: training data folder not found")
        found.extend(find_patients(root).patients)
    if not found:
        raise FileNotFoundError(f"no patient folders found in {', '.join(map(str, roots))}")
    return found


def _cache_key(source: Path, spec: InputSpec, label: Path | None = None) -> str:
    files = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
    stamp = max((p.stat().st_mtime_ns for p in files), default=0)
    parts: list[object] = [str(source.resolve()), stamp, spec.to_dict(), "v3"]  # v3: crop square in mm
    if label is not None:  # a saved label outside the patient folder (NIfTI beside it) keys the cache too
        files = [label] if label.is_file() else [p for p in label.rglob("*") if p.is_file()]
        parts += [str(label.resolve()), max((p.stat().st_mtime_ns for p in files), default=0)]
    text = json.dumps(parts)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def load_cached(source: Path, spec: InputSpec, cache_dir: Path, label: Path | None = None) -> CachedPatient:
    """The patient's network-grid stack, from the cache or computed and cached now.

    ``label``: a saved label (IRCAD mask folder, NIfTI or DICOM SEG, as the annotator saves them)
    to train on instead of the patient's ``liver`` ground truth.
    """
    from ctseg_core.io.loading import load_patient

    cache_file = cache_dir / "slices" / f"{source.name}-{_cache_key(source, spec, label)}.npz"
    synthetic = source.name.startswith(PHANTOM_PREFIX)
    if cache_file.is_file():
        with np.load(cache_file) as data:
            return CachedPatient(source.name, source, data["hu"], data["liver"], synthetic, float(data["dz"]))
    patient = load_patient(source, masks=None if label is not None else ["liver"])
    if label is not None:
        patient.masks["liver"] = read_saved_label(label, patient)
    if "liver" not in patient.masks:
        why = patient.mask_errors.get("liver")
        raise FileNotFoundError(f"{source}: no liver mask to train on" + (f" (its liver mask: {why})" if why else ""))
    stack, box = crop_and_resize(patient.hu, spec, spacing_yx=(patient.spacing_mm[1], patient.spacing_mm[2]))
    liver = (crop_and_resize_mask(patient.masks["liver"], spec, box) >= 0.5).astype(np.uint8)
    hu = np.clip(np.rint(stack), -32768, 32767).astype(np.int16)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    from ctseg_core.io.atomic import atomic_path

    with atomic_path(cache_file, suffix=".npz") as temporary:
        np.savez_compressed(temporary, hu=hu, liver=liver, dz=np.float64(patient.spacing_mm[0]))
    return CachedPatient(source.name, source, hu, liver, synthetic, float(patient.spacing_mm[0]))


def read_saved_label(label: Path, patient: Patient) -> np.ndarray:
    """A saved label on the patient's grid: an IRCAD mask folder, a NIfTI, or a DICOM SEG's first segment.

    The same readers as the annotator's ``load_label`` (the model layer does not import ``annotate``).
    """
    from ctseg_core.errors import CtsegError
    from ctseg_core.io.masks import read_mask_folder
    from ctseg_core.io.nifti import read_nifti_mask
    from ctseg_core.io.seg import read_dicom_seg

    label = Path(label)
    if label.is_dir():
        return read_mask_folder(label, patient)
    if label.name.lower().endswith((".nii", ".nii.gz")):
        return read_nifti_mask(label, patient)
    segments = read_dicom_seg(label, patient)
    if not segments:
        raise CtsegError(label, "the DICOM SEG holds no segment")
    return next(iter(segments.values()))


def ensure_phantoms(count: int, cache_dir: Path, slices: int = 64) -> list[Path]:
    """Synthetic training patients (seeds 1000…), written once into the cache."""
    from ctseg_core.synth.phantom import PHANTOM_VERSION, write_phantom

    folders = []
    for i in range(count):
        folder = cache_dir / "phantoms" / f"v{PHANTOM_VERSION}" / f"{PHANTOM_PREFIX}{1000 + i}"
        if not (folder / "PATIENT_DICOM").is_dir():
            write_phantom(folder, seed=1000 + i, slices=slices)
        folders.append(folder)
    return folders


def split_folds(names: list[str], folds: int) -> list[list[str]]:
    """Validation patients of each fold, assigned round-robin over sorted names."""
    if folds < 2 or folds > len(names):
        raise ValueError(f"--folds {folds} needs 2 ≤ folds ≤ {len(names)} real patients")
    ordered = sorted(names)
    return [ordered[k::folds] for k in range(folds)]
