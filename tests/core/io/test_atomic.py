"""Atomic writes of files and IRCAD mask folders: failures, leftovers of killed writes, recovery.

The previous output must survive every failure byte for byte, and the next write must clean up
whatever a killed or failed write left, without ever deleting the only copy of a mask.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ctseg_core import errors
from ctseg_core.io import atomic
from ctseg_core.io.atomic import atomic_folder, atomic_path, hidden_leftovers, recover_folder
from ctseg_core.io.loading import load_patient
from ctseg_core.io.masks import read_mask_folder, write_ircad_mask
from ctseg_core.io.patient import Patient
from ctseg_core.synth.phantom import write_phantom

NAME = "liver_pred"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name → bytes), hidden ones included."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def patient_dir(tmp_path: Path) -> Path:
    """A small phantom patient with a ctseg-written ``MASKS_DICOM/liver_pred`` (the "previous" output)."""
    folder = write_phantom(tmp_path / "patient", seed=5, slices=6, size=64)
    patient = load_patient(folder, masks=["liver"])
    write_ircad_mask(patient.masks["liver"], patient, folder, name=NAME)
    return folder


@pytest.fixture
def patient(patient_dir: Path) -> Patient:
    return load_patient(patient_dir, masks=["liver"])


def other_mask(patient: Patient) -> np.ndarray:
    mask = np.zeros(patient.shape, bool)
    mask[1:4, 10:30, 12:40] = True
    return mask


# ----------------------------------------------------------------------------- files


def test_a_file_write_that_fails_on_a_full_disk_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "summary.csv"
    target.write_bytes(b"old contents\n")
    with pytest.raises(errors.DiskFullError) as caught, atomic_path(target, suffix=".csv") as temporary:
        temporary.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(target) in str(caught.value) and "disk full" in str(caught.value)
    assert "previous output is unchanged" in str(caught.value)
    assert target.read_bytes() == b"old contents\n" and os.listdir(tmp_path) == ["summary.csv"]


def test_a_device_target_is_written_in_place_and_never_replaced() -> None:
    """/dev/full: the write fails with "disk full"; renaming over it would have replaced the device."""
    with pytest.raises(errors.DiskFullError, match=r"^/dev/full: disk full"):
        with atomic_path("/dev/full", suffix=".csv") as temporary, open(temporary, "w") as handle:
            handle.write("patient,dice\n" * 100)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert not [name for name in os.listdir("/dev") if name.startswith(".full.")]


def test_a_file_target_that_is_a_folder_is_refused_before_writing(tmp_path: Path) -> None:
    (tmp_path / "out.nii.gz").mkdir()
    with pytest.raises(errors.IsAFolderError, match=f"^{tmp_path / 'out.nii.gz'}: is a folder, not a file"):
        with atomic_path(tmp_path / "out.nii.gz"):
            pytest.fail("the body must not run")
    assert os.listdir(tmp_path) == ["out.nii.gz"]


def test_a_file_under_a_file_names_the_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a folder")
    with pytest.raises(errors.NotAFolderError, match=f"^{tmp_path / 'plain'}: is a file, not a folder"):
        with atomic_path(tmp_path / "plain" / "sub" / "x.csv"):
            pass
    assert (tmp_path / "plain").read_text() == "not a folder"


def test_a_read_only_folder_is_reported_as_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    target = tmp_path / "x.csv"
    target.write_text("old")
    with pytest.raises(errors.ReadOnlyError, match=f"^{tmp_path}: read-only file system"), atomic_path(target):
        pass
    assert target.read_text() == "old"


# ----------------------------------------------------------------------------- folders


def test_a_stale_old_backup_from_an_earlier_version_no_longer_blocks_saving(
    patient_dir: Path, patient: Patient
) -> None:
    """Before: a non-empty ``.liver_pred.old`` made every later save fail (rename onto a non-empty folder)."""
    masks = patient_dir / "MASKS_DICOM"
    (masks / f".{NAME}.old").mkdir()
    (masks / f".{NAME}.old" / "image_0").write_bytes(b"stale")
    new = other_mask(patient)
    write_ircad_mask(new, patient, patient_dir, name=NAME)
    write_ircad_mask(new, patient, patient_dir, name=NAME)  # and again
    np.testing.assert_array_equal(read_mask_folder(masks / NAME, patient), new)
    assert hidden_entries(masks) == []


def test_a_failed_final_rename_rolls_back_to_the_previous_mask(
    patient_dir: Path, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    masks = patient_dir / "MASKS_DICOM"
    before = snapshot(masks / NAME)
    real, calls = os.replace, []

    def failing_second_rename(source: str | Path, destination: str | Path) -> None:
        calls.append(Path(source).name)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        real(source, destination)

    monkeypatch.setattr(atomic.os, "replace", failing_second_rename)
    with pytest.raises(errors.OutputError) as caught:
        write_ircad_mask(other_mask(patient), patient, patient_dir, name=NAME)
    assert str(caught.value).startswith(f"{masks / NAME}: cannot write (Input/output error)")
    assert "previous output is unchanged" in str(caught.value)
    assert calls[0] == NAME and calls[1].endswith(".staging")  # old → backup, then the failing one
    assert snapshot(masks / NAME) == before
    assert hidden_entries(masks) == []


def test_a_backup_left_by_a_killed_write_is_restored_before_anything_else(patient_dir: Path, patient: Patient) -> None:
    """The old code deleted ``.liver_pred.old`` on the next save even when it was the only copy."""
    masks = patient_dir / "MASKS_DICOM"
    before = snapshot(masks / NAME)
    os.replace(masks / NAME, masks / f".{NAME}.0123456789ab.backup")  # as if killed between the renames
    with pytest.raises(errors.Cancelled):  # even a write cancelled at once restores it first
        write_ircad_mask(other_mask(patient), patient, patient_dir, name=NAME, should_cancel=lambda: True)
    assert snapshot(masks / NAME) == before
    assert hidden_entries(masks) == []


def test_stale_staging_folders_are_removed_and_other_labels_left_alone(patient_dir: Path, patient: Patient) -> None:
    masks = patient_dir / "MASKS_DICOM"
    stale = [masks / f".{NAME}.aaaaaaaaaaaa.staging", masks / f".{NAME}.k3j_x9zq"]  # ours, and the old mkdtemp name
    for folder in stale:
        folder.mkdir()
        (folder / "image_0").write_bytes(b"half written")
    other = masks / ".liver_pred.v2.bbbbbbbbbbbb.staging"  # a different label ("liver_pred.v2")
    other.mkdir()
    write_ircad_mask(other_mask(patient), patient, patient_dir, name=NAME)
    assert hidden_entries(masks) == [other.name]
    assert hidden_leftovers(masks / "liver_pred.v2")["staging"] == [other]


def test_a_full_disk_mid_folder_keeps_the_previous_mask(
    patient_dir: Path, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydicom.dataset import Dataset

    masks = patient_dir / "MASKS_DICOM"
    before = snapshot(masks / NAME)
    real, written = Dataset.save_as, []

    def full_after_two(self: Dataset, filename: Any, *args: Any, **kwargs: Any) -> None:
        written.append(filename)
        if len(written) > 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(filename))
        real(self, filename, *args, **kwargs)

    monkeypatch.setattr(Dataset, "save_as", full_after_two)
    with pytest.raises(errors.DiskFullError) as caught:
        write_ircad_mask(other_mask(patient), patient, patient_dir, name=NAME)
    assert str(caught.value) == (
        f"{masks / NAME}: disk full (no space left on the device); the previous output is unchanged"
    )
    assert snapshot(masks / NAME) == before and hidden_entries(masks) == []


def test_a_mask_folder_name_taken_by_a_file_is_refused(patient_dir: Path, patient: Patient) -> None:
    masks = patient_dir / "MASKS_DICOM"
    (masks / "notes").write_text("a file, not a mask folder")
    with pytest.raises(errors.NotAFolderError, match=f"^{masks / 'notes'}: is a file, not a folder"):
        write_ircad_mask(other_mask(patient), patient, patient_dir, name="notes")
    assert (masks / "notes").read_text() == "a file, not a mask folder" and hidden_entries(masks) == []


def test_recover_folder_restores_the_newest_backup_only_when_the_target_is_missing(tmp_path: Path) -> None:
    target = tmp_path / "label"
    older, newer = tmp_path / ".label.000000000001.backup", tmp_path / ".label.000000000002.backup"
    for folder, text in ((older, "older"), (newer, "newer")):
        folder.mkdir()
        (folder / "image_0").write_text(text)
    os.utime(older, (1_000_000, 1_000_000))
    assert recover_folder(target) == target
    assert (target / "image_0").read_text() == "newer" and os.listdir(tmp_path) == ["label"]
    assert recover_folder(target) is None  # nothing left to do


def test_atomic_folder_body_failure_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "out" / "label"
    target.mkdir(parents=True)
    (target / "a").write_text("previous")
    with pytest.raises(RuntimeError, match="boom"), atomic_folder(target) as staging:
        (staging / "a").write_text("new")
        raise RuntimeError("boom")
    assert snapshot(tmp_path / "out") == {"label/a": b"previous"}
    with atomic_folder(target) as staging:
        (staging / "b").write_text("new")
    assert snapshot(tmp_path / "out") == {"label/b": b"new"}


# ----------------------------------------------------------------------------- killed writes

KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    import numpy as np

    from ctseg_core.io.loading import load_patient
    from ctseg_core.io.masks import write_ircad_mask

    folder, moment = Path(sys.argv[1]), sys.argv[2]
    patient = load_patient(folder, masks=["liver"])
    mask = np.zeros(patient.shape, bool)
    mask[:, 5:20, 5:20] = True

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    progress = None
    if moment == "mid-slices":
        progress = lambda done, total, stage: die() if done == 3 else None
    else:  # between the two renames: old folder → backup done, new folder → target not yet
        real, calls = os.replace, []

        def replace(source, destination):
            calls.append(source)
            if len(calls) == 2:
                die()
            return real(source, destination)

        os.replace = replace
    write_ircad_mask(mask, patient, folder, name="liver_pred", progress=progress)
    print("not killed")
    """
)


@pytest.mark.parametrize("moment", ["mid-slices", "between-renames"])
@pytest.mark.slow
def test_a_write_killed_at_any_moment_loses_nothing_and_the_next_save_cleans_up(patient_dir: Path, moment: str) -> None:
    masks = patient_dir / "MASKS_DICOM"
    before = snapshot(masks / NAME)
    killed = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(patient_dir), moment], capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = hidden_leftovers(masks / NAME)
    if moment == "mid-slices":  # the previous folder was never touched; half a staging folder is left
        assert snapshot(masks / NAME) == before
        [staging] = left["staging"]
        assert sorted(p.name for p in staging.iterdir()) == ["image_0", "image_1", "image_2"]
    else:  # the previous folder exists only as the backup, intact: restorable
        assert not (masks / NAME).exists()
        [backup] = left["backup"]
        assert snapshot(backup) == before
        assert len(left["staging"]) == 1  # the finished new folder that was never renamed

    patient = load_patient(patient_dir, masks=["liver"])
    new = other_mask(patient)
    write_ircad_mask(new, patient, patient_dir, name=NAME)
    np.testing.assert_array_equal(read_mask_folder(masks / NAME, patient), new)
    assert hidden_entries(masks) == []
