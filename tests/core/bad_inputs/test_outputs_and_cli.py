"""Bad outputs and the CLI's error contract, found by adversarial testing.

Label names that are not folder names, ground truth that must never be replaced by accident,
outputs that cannot be written (a file in the way, read-only, full disk, a folder where a file
goes), bugs inside one patient of a batch, and file names that are not UTF-8. Every case asserts
the exact outcome: the error type (or exit code and the ``ctseg: error:`` line, never a
traceback), the offending path in the message, and that the previous output is byte-identical.

Most CLI cases run ``ctseg_core.cli.main`` in-process with a stand-in segmenter (no TensorFlow);
the two that must see a real process (the log file of an internal error, a non-UTF-8 stdout)
run ``python -m ctseg_core.cli``.
"""

from __future__ import annotations

import csv
import errno
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from ctseg_core import errors
from ctseg_core.annotate.labels import LabelFormat, SaveTarget, save_label, validate_label_name
from ctseg_core.batch import segment_patients
from ctseg_core.cli import main
from ctseg_core.io.loading import load_patient
from ctseg_core.io.masks import read_mask_folder, write_ircad_mask
from ctseg_core.model.inference import Segmentation, Segmenter
from ctseg_core.synth.phantom import write_phantom

NON_UTF8 = os.fsdecode(b"pat\xff")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name → bytes), hidden ones included."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two small phantom patients (6 slices of 64², liver/tumour/spleen ground truth), copied per test.

    Two seeds, so two patients: copies of one phantom would be one patient's series in sub-folders.
    """
    root = tmp_path_factory.mktemp("templates")
    return [write_phantom(root / f"p{i}", seed=11 + i, slices=6, size=64) for i in range(2)]


@pytest.fixture
def template(templates: list[Path]) -> Path:
    return templates[0]


@pytest.fixture
def patient_dir(tmp_path: Path, template: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "patient"))


@pytest.fixture
def patients(tmp_path: Path, templates: list[Path]) -> Path:
    """A parent folder of two patients, p0 and p1."""
    for i, source in enumerate(templates):
        shutil.copytree(source, tmp_path / "root" / f"p{i}")
    return tmp_path / "root"


class FakeSegmenter:
    """Stands in for a loaded model: thresholds the HU (no TensorFlow, instant)."""

    path = Path("fake.keras")
    load_seconds = 0.0
    import_seconds = 0.0
    backend = "fake"
    loads: ClassVar[list[Any]] = []

    def predict(
        self,
        hu: np.ndarray,
        spacing_mm: Any = None,
        progress: Any = None,
        should_cancel: Any = None,
        return_probability: bool = False,
    ) -> Segmentation:
        return Segmentation(mask=hu > 0, timings={"network": 0.0})


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """``Segmenter.load`` returns a FakeSegmenter; the list records each load's model path."""
    loads: list[Any] = []

    def load(cls: type, model_path: Any = None, threads: Any = None) -> FakeSegmenter:
        loads.append(model_path)
        return FakeSegmenter()

    monkeypatch.setattr(Segmenter, "load", classmethod(load))
    return loads


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$CTSEG_CACHE`` for this test: internal-error logs go to ``cache/logs``."""
    monkeypatch.setenv("CTSEG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``ctseg ARGV`` in-process: exit code, stdout, stderr (argparse's exits included)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def error_line(err: str) -> str:
    """The one ``ctseg: error:`` line of stderr."""
    [line] = [line for line in err.splitlines() if line.startswith("ctseg: ")]
    return line


# ----------------------------------------------------------------------------- label names


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"),
        (".", "is not a folder name (only dots)"),
        ("..", "is not a folder name (only dots)"),
        ("...", "is not a folder name (only dots)"),
        (".hidden", "starts with a dot"),
        ("../liver", "starts with a dot"),
        ("a/b", "contains '/'"),
        ("a\\b", "contains '\\\\'"),
        ("a\0b", "contains '\\x00'"),
        ("c:liver", "contains ':'"),
        (" liver", "has leading or trailing whitespace"),
        ("liver\n", "has leading or trailing whitespace"),
        ("liver.", "ends with a dot"),
        ("MASKS_DICOM", "is a folder of the IRCAD layout itself"),
        ("patient_dicom", "is a folder of the IRCAD layout itself"),
        ("CON", "is a device name reserved on Windows"),
        ("nul.txt", "is a device name reserved on Windows"),
        ("Com1", "is a device name reserved on Windows"),
        ("x" * 101, "is 101 characters long (at most 100)"),
    ],
)
def test_a_bad_label_name_is_refused_before_anything_is_written(patient_dir: Path, name: str, problem: str) -> None:
    """``.`` used to replace the whole MASKS_DICOM folder (every ground-truth organ gone)."""
    patient = load_patient(patient_dir, masks=["liver"])
    before = snapshot(patient_dir)
    with pytest.raises(errors.InvalidLabelNameError) as caught:
        write_ircad_mask(patient.masks["liver"], patient, patient_dir, name=name)
    assert str(caught.value).startswith(f"{patient_dir / 'MASKS_DICOM'}: label name {name!r} {problem}")
    assert snapshot(patient_dir) == before


@pytest.mark.parametrize("name", ["liver_pred", "liver.v2", "Leber-2 korrigiert", "肝臓", "x" * 100])
def test_ordinary_label_names_are_accepted(name: str) -> None:
    assert validate_label_name(name) == name


def test_save_label_checks_the_name_of_every_target(patient_dir: Path, tmp_path: Path) -> None:
    patient = load_patient(patient_dir, masks=["liver"])
    before = snapshot(patient_dir)
    with pytest.raises(errors.InvalidLabelNameError, match=f"^{patient_dir / 'MASKS_DICOM'}: label name '..' "):
        save_label(patient.masks["liver"], patient, SaveTarget(LabelFormat.IRCAD, patient_dir, ".."))
    seg = tmp_path / "x.seg.dcm"
    with pytest.raises(errors.InvalidLabelNameError, match=f"^{seg}: label name '' is empty"):
        save_label(patient.masks["liver"], patient, SaveTarget(LabelFormat.DICOM_SEG, seg, ""))
    assert snapshot(patient_dir) == before and not seg.exists()


# ----------------------------------------------------------------------------- ground truth


def test_the_ground_truth_folder_is_never_replaced_unless_asked(patient_dir: Path) -> None:
    patient = load_patient(patient_dir, masks=["liver"])
    before = snapshot(patient_dir)
    empty = np.zeros(patient.shape, bool)
    with pytest.raises(errors.GroundTruthProtectedError) as caught:
        save_label(empty, patient, SaveTarget(LabelFormat.IRCAD, patient_dir, "liver"))
    assert str(caught.value).startswith(f"{patient_dir / 'MASKS_DICOM' / 'liver'}: is the ground truth")
    assert "replace_ground_truth=True" in str(caught.value)
    assert snapshot(patient_dir) == before


def test_ground_truth_is_replaced_when_asked_and_ctseg_owns_the_folder_after(patient_dir: Path) -> None:
    patient = load_patient(patient_dir, masks=["liver"])
    corrected = patient.masks["liver"].copy()
    corrected[0] = False
    write_ircad_mask(corrected, patient, patient_dir, name="liver", replace_ground_truth=True)
    np.testing.assert_array_equal(read_mask_folder(patient_dir / "MASKS_DICOM" / "liver", patient), corrected)
    write_ircad_mask(patient.masks["liver"], patient, patient_dir, name="liver")  # ctseg's own now: no flag needed
    assert hidden(patient_dir / "MASKS_DICOM") == []


def test_a_mask_inside_masks_dicom_zip_is_protected(patient_dir: Path) -> None:
    masks = patient_dir / "MASKS_DICOM"
    with zipfile.ZipFile(patient_dir / "MASKS_DICOM.zip", "w") as archive:
        for path in sorted(masks.rglob("*")):
            archive.write(path, path.relative_to(patient_dir).as_posix())
    shutil.rmtree(masks)
    patient = load_patient(patient_dir, masks=["liver"])
    with pytest.raises(errors.GroundTruthProtectedError) as caught:
        write_ircad_mask(patient.masks["liver"], patient, patient_dir, name="liver")
    assert str(caught.value).startswith(f"{patient_dir / 'MASKS_DICOM.zip'}: holds the ground truth 'liver'")
    assert not masks.exists()  # not even an empty MASKS_DICOM, which would hide the zip from the loader
    with pytest.raises(errors.Cancelled):
        write_ircad_mask(patient.masks["liver"], patient, patient_dir, name="liver_edit", should_cancel=lambda: True)
    assert not masks.exists()
    written = write_ircad_mask(patient.masks["liver"], patient, patient_dir, name="liver_edit")  # not in the zip
    assert written == masks / "liver_edit"


def test_a_mask_folder_from_an_earlier_ctseg_is_not_ground_truth(patient_dir: Path) -> None:
    """Earlier versions wrote no Manufacturer; their "ctseg <name> mask" series stay replaceable."""
    import pydicom

    patient = load_patient(patient_dir, masks=["liver"])
    folder = write_ircad_mask(patient.masks["liver"], patient, patient_dir, name="liver_pred")
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        del ds.Manufacturer
        ds.save_as(path)
    write_ircad_mask(patient.masks["liver"], patient, patient_dir, name="liver_pred")
    assert pydicom.dcmread(folder / "image_0").Manufacturer == "ctseg"


@pytest.mark.parametrize(
    ("case", "ours"),
    [
        ("written by ctseg", True),
        ("ctseg's Manufacturer, another description", True),
        ("the phantom's ground truth", False),
        ("a text file", False),
        ("empty", True),
        ("only a sub-folder", False),
    ],
)
def test_what_counts_as_a_folder_ctseg_wrote(patient_dir: Path, case: str, ours: bool) -> None:
    import pydicom

    from ctseg_core.io.masks import is_ctseg_mask_folder

    patient = load_patient(patient_dir, masks=["liver"])
    folder = patient_dir / "MASKS_DICOM" / "x"
    if case.startswith(("written", "ctseg's")):
        write_ircad_mask(patient.masks["liver"], patient, patient_dir, name="x")
        if case.startswith("ctseg's"):
            for path in folder.iterdir():
                ds = pydicom.dcmread(path)
                ds.SeriesDescription = "edited elsewhere"
                ds.save_as(path)
    elif case == "the phantom's ground truth":
        folder = patient_dir / "MASKS_DICOM" / "liver"
    else:
        folder.mkdir()
        if case == "a text file":
            (folder / "README.txt").write_text("notes")
        elif case == "only a sub-folder":
            (folder / "series").mkdir()
    assert is_ctseg_mask_folder(folder) is ours


# ----------------------------------------------------------------------------- outputs (CLI and batch)


@pytest.mark.parametrize("where", ["an existing file", "under a file", "/dev/full"])
def test_an_output_folder_that_is_a_file_is_refused_before_the_model_loads(
    capsys: pytest.CaptureFixture[str], patient_dir: Path, tmp_path: Path, fake_model: list[Any], where: str
) -> None:
    blocker = Path("/dev/full") if where == "/dev/full" else tmp_path / "results.txt"
    if where != "/dev/full":
        blocker.write_text("keep me")
    out = blocker / "sub" if where == "under a file" else blocker
    code, _, err = run(capsys, "segment", patient_dir, "--out", out)
    assert code == 2
    assert error_line(err) == f"ctseg: error: {blocker}: is a file, not a folder: cannot write outputs into it"
    assert fake_model == []
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    if where != "/dev/full":
        assert blocker.read_text() == "keep me"


def test_the_batch_api_refuses_an_output_folder_that_is_a_file(patients: Path, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    with pytest.raises(errors.NotAFolderError, match=f"^{tmp_path / 'out'}: is a file, not a folder"):
        segment_patients([patients], tmp_path / "out", model=tmp_path / "no-such-model.keras")


def test_a_summary_path_that_is_a_folder_is_refused(
    capsys: pytest.CaptureFixture[str], patients: Path, tmp_path: Path, fake_model: list[Any]
) -> None:
    (tmp_path / "summary.csv").mkdir()
    code, _, err = run(capsys, "segment", patients, "--out", tmp_path / "out", "--summary", tmp_path / "summary.csv")
    assert code == 2
    assert error_line(err) == (
        f"ctseg: error: {tmp_path / 'summary.csv'}: is a folder, not a file: give the summary CSV a file name"
    )
    assert not (tmp_path / "out").exists()


def test_a_summary_on_a_full_disk_is_a_clear_error_after_the_rows(
    capsys: pytest.CaptureFixture[str], patients: Path, tmp_path: Path, fake_model: list[Any]
) -> None:
    code, out, err = run(capsys, "segment", patients, "--out", tmp_path / "out", "--summary", "/dev/full")
    assert code == 2
    assert error_line(err) == (
        "ctseg: error: /dev/full: cannot write the summary CSV: disk full (no space left on the device); "
        "nothing was written"
    )
    assert [line.split(":")[0] for line in out.splitlines()] == ["p0", "p1"]  # both patients were done
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def _fail_mkdir_under(monkeypatch: pytest.MonkeyPatch, root: Path, code: int) -> None:
    real = Path.mkdir

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self == root or root in self.parents:
            raise OSError(code, os.strerror(code), str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)


def test_a_read_only_output_folder_gives_each_patient_an_error_row(
    capsys: pytest.CaptureFixture[str],
    patients: Path,
    tmp_path: Path,
    fake_model: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out"
    _fail_mkdir_under(monkeypatch, out, errno.EROFS)
    summary = tmp_path / "summary.csv"
    code, _, err = run(capsys, "segment", patients, "--out", out, "--summary", summary)
    assert code == 1
    assert err.splitlines()[-2:] == [
        f"{name}: error: {out / name / 'MASKS_DICOM'}: read-only file system; nothing was written"
        for name in ("p0", "p1")
    ]
    with open(summary, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["patient"], r["error_type"]) for r in table] == [("p0", "ReadOnlyError"), ("p1", "ReadOnlyError")]


def test_a_full_disk_while_writing_a_patient_keeps_its_previous_output(
    capsys: pytest.CaptureFixture[str],
    patient_dir: Path,
    tmp_path: Path,
    fake_model: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydicom.dataset import Dataset

    out = tmp_path / "out"
    assert run(capsys, "segment", patient_dir, "--out", out)[0] == 0
    target = out / "patient" / "MASKS_DICOM" / "liver_pred"
    before = snapshot(out)
    real, calls = Dataset.save_as, []

    def full_after_three(self: Dataset, filename: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(filename)
        if len(calls) > 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(filename))
        real(self, filename, *args, **kwargs)

    monkeypatch.setattr(Dataset, "save_as", full_after_three)
    code, _, err = run(capsys, "segment", patient_dir, "--out", out)
    assert code == 1
    assert err.splitlines()[-1] == (
        f"patient: error: {target}: disk full (no space left on the device); the previous output is unchanged"
    )
    assert snapshot(out) == before and hidden(target.parent) == []


@pytest.mark.parametrize(
    ("fmt", "name", "error_type", "problem"),
    [
        ("nifti", "liver_pred.nii.gz", "IsAFolderError", "is a folder, not a file: give a file name ending in .nii.gz"),
        ("seg", "liver_pred.seg.dcm", "IsAFolderError", "is a folder, not a file: give a file name ending in .dcm"),
    ],
)
def test_a_file_output_that_is_a_folder_is_that_patients_error_row(
    patients: Path, tmp_path: Path, fmt: str, name: str, error_type: str, problem: str
) -> None:
    blocked = tmp_path / "out" / "p0" / name
    blocked.mkdir(parents=True)
    rows = segment_patients([patients], tmp_path / "out", fmt, segmenter=FakeSegmenter())  # type: ignore[arg-type]
    assert rows[0]["error"].startswith(f"{blocked}: {problem}") and rows[0]["error_type"] == error_type
    assert "error" not in rows[1] and Path(rows[1]["output"]).is_file()
    assert blocked.is_dir() and list(blocked.iterdir()) == []


def test_a_nifti_on_a_full_disk_keeps_the_previous_file(
    patients: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nibabel as nib

    rows = segment_patients([patients / "p0"], tmp_path / "out", "nifti", segmenter=FakeSegmenter())  # type: ignore[arg-type]
    target = Path(rows[0]["output"])
    before = target.read_bytes()

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(nib, "save", full)
    rows = segment_patients([patients / "p0"], tmp_path / "out", "nifti", segmenter=FakeSegmenter())  # type: ignore[arg-type]
    assert rows[0]["error"] == f"{target}: disk full (no space left on the device); the previous output is unchanged"
    assert rows[0]["error_type"] == "DiskFullError"
    description = target.with_name("liver_pred.txt")  # the ITK-SNAP label description beside it
    assert target.read_bytes() == before and sorted(os.listdir(target.parent)) == [target.name, description.name]


# ----------------------------------------------------------------------------- the error contract


def test_a_bug_in_one_patient_is_its_error_row_and_the_batch_goes_on(
    capsys: pytest.CaptureFixture[str],
    patients: Path,
    tmp_path: Path,
    fake_model: list[Any],
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ctseg_core.batch.patient as batch

    real = batch.load_patient

    def buggy(path: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(path).name == "p0":
            raise ZeroDivisionError("division by zero in the loader")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(batch, "load_patient", buggy)
    code, out, err = run(capsys, "segment", patients, "--out", tmp_path / "out")
    assert code == 1
    [log] = list((cache / "logs").iterdir())
    assert err.splitlines()[-1] == (
        f"p0: error: internal error: ZeroDivisionError: division by zero in the loader (traceback written to {log})"
    )
    assert out.startswith("p1: Dice")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError: division by zero in the loader" in text
    assert f"while segmenting {patients / 'p0'}" in text


def _break_info(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    def broken(patient: Any) -> Any:
        raise error

    monkeypatch.setattr("ctseg_core.io.summary.patient_summary", broken)


def test_an_internal_error_is_one_line_and_a_log_file(
    capsys: pytest.CaptureFixture[str], patient_dir: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_info(monkeypatch, RuntimeError("boom\nsecond line"))
    code, _, err = run(capsys, "info", patient_dir)
    [log] = list((cache / "logs").iterdir())
    assert code == 3
    assert err == f"ctseg: internal error: RuntimeError: boom second line (traceback written to {log})\n"
    assert "Traceback (most recent call last)" in log.read_text() and "RuntimeError: boom" in log.read_text()


def test_debug_prints_the_traceback_instead(
    capsys: pytest.CaptureFixture[str], patient_dir: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_info(monkeypatch, RuntimeError("boom"))
    code = main(["--debug", "info", str(patient_dir)])
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("Traceback (most recent call last)") and "RuntimeError: boom" in err
    assert err.splitlines()[-1] == "ctseg: internal error: RuntimeError: boom (traceback above)"
    assert not (cache / "logs").exists()


@pytest.mark.parametrize("interrupt", [errors.Cancelled("cancelled by the user"), KeyboardInterrupt()])
def test_cancel_and_ctrl_c_exit_130(
    capsys: pytest.CaptureFixture[str], patient_dir: Path, monkeypatch: pytest.MonkeyPatch, interrupt: BaseException
) -> None:
    _break_info(monkeypatch, interrupt)
    assert run(capsys, "info", patient_dir)[::2] == (130, "ctseg: cancelled\n")


def test_an_os_error_from_the_environment_is_a_user_error(
    capsys: pytest.CaptureFixture[str], patient_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_info(monkeypatch, PermissionError(errno.EACCES, "Permission denied", str(patient_dir / "x")))
    assert run(capsys, "info", patient_dir)[::2] == (2, f"ctseg: error: {patient_dir / 'x'}: Permission denied\n")


def test_a_ctseg_error_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = ["segment", str(tmp_path / "missing"), "--model", str(tmp_path / "none.keras")]
    line = f"ctseg: error: {tmp_path / 'none.keras'}: model file not found"
    assert run(capsys, *argv)[::2] == (2, line + "\n")
    assert main(["--debug", *argv]) == 2  # --debug adds the traceback, nothing else changes
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and err.splitlines()[-1] == line


def test_training_setup_mistakes_are_ctseg_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ctseg_core.model.tf_runtime.import_tensorflow", lambda *a, **k: None)
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "train", tmp_path / "empty", "--out", tmp_path / "out")
    assert code == 2 and err == f"ctseg: error: no patient folders found in {tmp_path / 'empty'}\n"


def test_train_never_replaces_a_trained_model_without_overwrite_nor_into_the_models_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 26, defect 3: ``--out DIR`` silently replaced ``DIR/liver_unet.keras`` and its card,
    also when DIR was the user's models folder."""
    trained: list[Path] = []
    monkeypatch.setattr("ctseg_core.model.train.run_training", lambda roots, out, *a, **k: trained.append(out))
    models = tmp_path / "models"
    monkeypatch.setenv("CTSEG_MODELS_DIR", str(models))
    out = tmp_path / "out"
    out.mkdir()
    for name in ("liver_unet.keras", "liver_unet.card.json"):
        (out / name).write_text("the last run")
    code, _, err = run(capsys, "train", tmp_path, "--out", out)
    assert code == 2 and err == (
        f"ctseg: error: {out}: already holds a trained model (liver_unet.keras, liver_unet.card.json): "
        "choose a new folder, or pass --overwrite to replace it\n"
    )
    assert trained == [] and (out / "liver_unet.keras").read_text() == "the last run"
    assert run(capsys, "train", tmp_path, "--out", out, "--overwrite")[0] == 0 and trained == [out]
    models.mkdir()
    shutil.copy(out / "liver_unet.keras", models / "liver_unet.keras")
    for where in (models, models / "sub"):
        code, _, err = run(capsys, "train", tmp_path, "--out", where, "--overwrite")
        assert code == 2 and "is the user's models folder" in err and "--register NAME" in err, err
    assert trained == [out]


@pytest.mark.parametrize(
    "lineage",
    [
        0.93,
        {"validation_dice_before": 0.81, "validation_dice_after": 0.93},
        {"validation_dice_after": {"mean": "high"}},
    ],
    ids=["lineage a number", "dice a number", "mean text"],
)
def test_one_model_with_a_bad_lineage_never_stops_the_others_from_listing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lineage: object
) -> None:
    """Issue 26, defect 8: a plain number in ``training.lineage`` crashed ``ctseg models`` (exit 3)
    and stopped ``ctseg view`` from starting; it is refused like any other malformed field."""
    import json

    from ctseg_core.model.card import card_path
    from ctseg_core.model.inference import default_model_path
    from ctseg_core.model.registry import list_models

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("CTSEG_MODELS_DIR", str(models))
    card = json.loads(card_path(default_model_path()).read_text())
    for name, training in (("good", {"lineage": {"base_name": "bundled"}}), ("bad", {"lineage": lineage})):
        (models / f"{name}.keras").write_bytes(b"weights")
        (models / f"{name}.card.json").write_text(json.dumps({**card, "training": training}))
    listed = {m.name: m for m in list_models()}
    assert listed["good"].problem is None and listed["good"].lineage == {"base_name": "bundled"}
    assert listed["bad"].card is None and "training.lineage" in (listed["bad"].problem or "")
    code, out, err = run(capsys, "models")
    assert code == 0 and err == "", err
    assert "good" in out and "(unreadable:" in out and "training.lineage" in out
    code, out, _ = run(capsys, "models", "--json")
    assert code == 0 and [row["name"] for row in json.loads(out)] == ["bundled", "bad", "good"]


def test_a_value_error_from_deeper_in_training_is_an_internal_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*args: Any, **kwargs: Any) -> None:
        np.zeros(3).reshape(2)  # ValueError from numpy, not a user mistake

    monkeypatch.setattr("ctseg_core.model.train.run_training", bug)
    code, _, err = run(capsys, "train", tmp_path, "--out", tmp_path / "out")
    assert code == 3 and err.startswith("ctseg: internal error: ValueError: cannot reshape array")


@pytest.mark.parametrize(
    "argv",
    [
        ["segment", "p", "--threads", "-1"],
        ["segment", "p", "--threads", "0"],
        ["train", "r", "--out", "o", "--threads", "-1"],
    ],
)
def test_threads_below_one_are_refused_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """``--threads -1`` used to abort TensorFlow (exit −6, no message)."""
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.splitlines()[-1].endswith(f"error: argument --threads: must be a whole number ≥ 1, got '{argv[-1]}'")


def test_a_phantom_into_a_patient_folder_or_under_a_file_is_refused(
    capsys: pytest.CaptureFixture[str], patient_dir: Path, tmp_path: Path
) -> None:
    before = snapshot(patient_dir)
    assert run(capsys, "phantom", patient_dir, "--slices", "2", "--size", "32")[::2] == (
        2,
        f"ctseg: error: {patient_dir}: already holds a PATIENT_DICOM folder; choose an empty folder\n",
    )
    assert snapshot(patient_dir) == before
    (tmp_path / "file").write_text("x")
    assert run(capsys, "phantom", tmp_path / "file" / "p", "--slices", "2", "--size", "32")[::2] == (
        2,
        f"ctseg: error: {tmp_path / 'file'}: is a file, not a folder: cannot write outputs into it\n",
    )


@pytest.mark.parametrize("layout", ["IRCAD zips as downloaded", "plain DICOM folder", "parent of patients"])
def test_a_phantom_into_any_folder_holding_a_patient_is_refused(
    capsys: pytest.CaptureFixture[str], patient_dir: Path, tmp_path: Path, layout: str
) -> None:
    """Issue 26, defect 2: without ``PATIENT_DICOM/`` the phantom used to be written into the
    patient's folder, and opened instead of it, its ground truth shadowed."""
    if layout == "IRCAD zips as downloaded":
        out = tmp_path / "zipped"
        out.mkdir()
        for part in ("PATIENT_DICOM", "MASKS_DICOM"):
            shutil.make_archive(str(out / part), "zip", patient_dir, part)
    elif layout == "plain DICOM folder":
        out = Path(shutil.copytree(patient_dir / "PATIENT_DICOM", tmp_path / "plain"))
    else:
        out = tmp_path / "parent"
        shutil.copytree(patient_dir, out / "p0")
    before = snapshot(out)
    code, _, err = run(capsys, "phantom", out, "--slices", "2", "--size", "32")
    assert code == 2 and err.startswith(f"ctseg: error: {out}: already holds a patient ("), err
    assert "choose an empty or new folder" in err and "Traceback" not in err
    assert snapshot(out) == before


def test_a_file_write_fsyncs_the_file_then_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 26, defect 31: without fsync a power cut could leave a truncated "complete" file."""
    from ctseg_core.io import atomic

    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: events.append("rename") or real_replace(a, b))
    with atomic.atomic_path(tmp_path / "summary.csv", suffix=".csv") as temporary:
        temporary.write_text("patient,dice\n")
    assert events == ["fsync file", "rename", "fsync folder"]
    assert (tmp_path / "summary.csv").read_text() == "patient,dice\n"


def test_a_killed_file_write_leaves_a_temporary_the_next_write_removes(tmp_path: Path) -> None:
    """Issue 26, defect 31: SIGKILL mid-write left a hidden temporary that no later run removed."""
    from ctseg_core.io import atomic

    script = textwrap.dedent(
        f"""
        import os, signal
        from ctseg_core.io.atomic import atomic_path
        with atomic_path({str(tmp_path / "liver_pred.nii.gz")!r}, suffix=".nii.gz") as temporary:
            temporary.write_bytes(b"half a NIfTI")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.returncode == -9
    (left,) = hidden(tmp_path)
    assert left.startswith(".liver_pred.nii.gz.") and left.endswith(".ctseg-tmp.nii.gz")
    foreign = tmp_path / ".liver_pred.nii.gz.notours"
    foreign.write_text("someone else's")
    old = time.time() - 2 * atomic.STALE_TEMPORARY_S
    for name in (left, foreign.name):
        os.utime(tmp_path / name, (old, old))
    with atomic.atomic_path(tmp_path / "report.html", suffix=".html") as temporary:  # a fresh one stays meanwhile
        temporary.write_text("<html></html>")
        assert sorted(hidden(tmp_path)) == sorted([foreign.name, temporary.name])
    assert hidden(tmp_path) == [foreign.name]  # only ctseg's own, and only a stale one, is removed
    assert not (tmp_path / "liver_pred.nii.gz").exists() and (tmp_path / "report.html").is_file()


# ----------------------------------------------------------------------------- non-UTF-8 file names


def test_info_prints_a_non_utf8_folder_name(capsys: pytest.CaptureFixture[str], template: Path, tmp_path: Path) -> None:
    """pytest's captured stdout is strict UTF-8, like PYTHONIOENCODING=utf-8: 0xff used to raise."""
    folder = Path(shutil.copytree(template, tmp_path / NON_UTF8))
    code, out, _ = run(capsys, "info", folder)
    assert code == 0 and out.splitlines()[0] == f"{tmp_path}/pat\\udcff"


def test_segment_a_non_utf8_folder_name_writes_its_bytes_into_the_summary(
    capsys: pytest.CaptureFixture[str], templates: list[Path], tmp_path: Path, fake_model: list[Any]
) -> None:
    for name, source in zip((NON_UTF8, "plain"), templates, strict=True):
        shutil.copytree(source, tmp_path / "root" / name)
    code, out, _ = run(capsys, "segment", tmp_path / "root", "--out", tmp_path / "out")
    assert code == 0
    assert [line.split(":")[0] for line in out.splitlines()[:2]] == ["pat\\udcff", "plain"]
    assert b"\npat\xff," in (tmp_path / "out" / "ctseg_summary.csv").read_bytes()
    assert (tmp_path / "out" / NON_UTF8 / "MASKS_DICOM" / "liver_pred").is_dir()


def _subprocess_env(cache: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONIOENCODING": "utf-8", "CTSEG_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.mark.slow
def test_segment_in_a_real_process_with_a_utf8_stdout_prints_no_traceback(template: Path, tmp_path: Path) -> None:
    """The bundled model on a patient whose folder name holds byte 0xff, stdout forced to UTF-8."""
    folder = Path(shutil.copytree(template, tmp_path / NON_UTF8))
    result = subprocess.run(
        [sys.executable, "-m", "ctseg_core.cli", "segment", folder, "--out", tmp_path / "out"],
        capture_output=True,
        env=_subprocess_env(tmp_path / "cache"),
        timeout=240,
    )
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr and stdout.startswith("pat\\udcff: Dice ")
    assert (tmp_path / "out" / NON_UTF8 / "MASKS_DICOM" / "liver_pred").is_dir()


@pytest.mark.slow
def test_an_internal_error_in_a_real_process_is_one_line_and_a_log_file(template: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import ctseg_core.io.summary

        def broken(patient):
            return {}["no such key"]

        ctseg_core.io.summary.patient_summary = broken
        from ctseg_core.cli import main
        sys.exit(main(["info", sys.argv[1]]))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, template],
        capture_output=True,
        text=True,
        env=_subprocess_env(tmp_path / "cache"),
        timeout=60,
    )
    [log] = list((tmp_path / "cache" / "logs").iterdir())
    assert result.returncode == 3
    assert result.stderr == f"ctseg: internal error: KeyError: 'no such key' (traceback written to {log})\n"
    assert "KeyError: 'no such key'" in log.read_text() and "in broken" in log.read_text()
