"""Segmenting: the Python API, bad inputs, cancel, and the ``ctseg segment`` CLI."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from ctseg_core import errors
from ctseg_core.cli import main
from ctseg_core.io.loading import load_patient
from ctseg_core.io.masks import read_mask_folder
from ctseg_core.metrics import dice
from ctseg_core.model.card import card_path
from ctseg_core.model.inference import Segmenter
from ctseg_core.synth.phantom import make_phantom


def test_predict_returns_probability_and_mask_on_the_grid(tiny_model: Path) -> None:
    segmenter = Segmenter.load(tiny_model)
    phantom = make_phantom(seed=40, slices=6, size=256)
    calls: list[tuple[int, int]] = []
    result = segmenter.predict(
        phantom.hu, phantom.spacing_mm, progress=lambda d, t, s: calls.append((d, t)), return_probability=True
    )
    assert result.probability is not None
    assert result.probability.shape == phantom.hu.shape and result.probability.dtype == np.float32
    assert result.mask.shape == phantom.hu.shape and result.mask.dtype == bool
    assert result.probability.min() >= 0.0 and result.probability.max() <= 1.0
    assert calls[-1] == (6, 6)
    assert set(result.timings) == {"preprocess", "network", "postprocess", "quality"}
    assert segmenter.predict(phantom.hu, phantom.spacing_mm).probability is None  # no full-grid map unless asked


def test_a_cold_load_traces_no_graph_until_the_first_prediction(tiny_model: Path) -> None:
    """Fine-tuning wants the weights alone: ``warm=False`` skips tracing the inference graph."""
    cold = Segmenter.load(tiny_model, warm=False)
    assert cold._forward is None
    warm = Segmenter.load(tiny_model, backend="tensorflow")
    assert warm._forward is not None
    hu = np.full((3, 64, 64), -1000, np.int16)
    assert np.array_equal(cold.predict(hu).mask, warm.predict(hu).mask)


@pytest.mark.parametrize("shape", [(1, 256, 256), (3, 768, 768), (2, 300, 200)])
def test_any_slice_count_and_grid(tiny_model: Path, shape: tuple[int, int, int]) -> None:
    hu = np.full(shape, -1000, np.int16)
    hu[:, shape[1] // 4 : 3 * shape[1] // 4, shape[2] // 4 : 3 * shape[2] // 4] = 60
    result = Segmenter.load(tiny_model).predict(hu)
    assert result.mask.shape == shape


def test_zero_slices_is_a_clear_error(tiny_model: Path) -> None:
    with pytest.raises(errors.CtsegError, match="shape"):
        Segmenter.load(tiny_model).predict(np.zeros((0, 64, 64), np.int16))


def test_cancel_mid_run_returns_quickly(tiny_model: Path) -> None:
    segmenter = Segmenter.load(tiny_model)
    hu = make_phantom(seed=41, slices=40, size=256).hu
    seen: list[int] = []
    started = time.perf_counter()
    with pytest.raises(errors.Cancelled):
        segmenter.predict(hu, progress=lambda d, t, s: seen.append(d), should_cancel=lambda: len(seen) > 1)
    assert time.perf_counter() - started < 5.0
    assert max(seen) < 40


def test_missing_corrupt_and_mismatched_models(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(errors.ModelError, match="not found"):
        Segmenter.load(tmp_path / "none.keras")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"not a model")
    shutil.copy(card_path(tiny_model), card_path(corrupt))
    with pytest.raises(errors.ModelError, match="corrupt"):
        Segmenter.load(corrupt)
    no_card = tmp_path / "nocard.keras"
    shutil.copy(tiny_model, no_card)
    with pytest.raises(errors.ModelError, match="card missing"):
        Segmenter.load(no_card)
    mismatched = tmp_path / "mismatched.keras"
    shutil.copy(tiny_model, mismatched)
    card = json.loads(card_path(tiny_model).read_text())
    card["input"]["size"] = 64
    card_path(mismatched).write_text(json.dumps(card))
    with pytest.raises(errors.ModelError, match="does not match"):
        Segmenter.load(mismatched)
    card_path(mismatched).write_text("{broken")
    with pytest.raises(errors.ModelError, match="malformed"):
        Segmenter.load(mismatched)


def test_segment_cli_json_and_outputs(
    tiny_model: Path, tiny_patients: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["segment", str(tiny_patients), "--model", str(tiny_model), "--out", str(tmp_path), "--json"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["patient"] for r in rows] == ["p0", "p1", "p2"]
    for key in ("patient", "dice", "jaccard", "assd_mm", "hd95_mm", "volume_ml_pred", "volume_ml_gt", "seconds"):
        assert key in rows[0]
    for row in rows:  # the quality estimate: a tiny model's card has no calibration, and says so
        assert 0.0 <= row["estimated_dice"] <= 1.0 and row["quality_calibrated"] is False
        partial = "covers only part" in str(row["quality_reasons"])
        assert row["check_scan"] == (row["estimated_dice"] < 0.9 or partial)
    assert "estimated_dice" in (tmp_path / "ctseg_summary.csv").read_text().splitlines()[0]
    assert (tmp_path / "ctseg_summary.csv").read_text().count("\n") == 4
    patient = load_patient(tiny_patients / "p0", masks=["liver"])
    mask_folder = tmp_path / "p0" / "MASKS_DICOM" / "liver_pred"
    assert len(list(mask_folder.iterdir())) == patient.shape[0]
    written = read_mask_folder(mask_folder, patient)  # the file on disk is what was scored
    assert dice(written, patient.masks["liver"]) == pytest.approx(rows[0]["dice"], abs=1e-9)
    assert rows[0]["output"] == str(mask_folder)


def test_segment_cli_nifti(tiny_model: Path, tiny_patients: Path, tmp_path: Path) -> None:
    import nibabel as nib

    assert (
        main(
            [
                "segment",
                str(tiny_patients / "p1"),
                "--model",
                str(tiny_model),
                "--out",
                str(tmp_path),
                "--format",
                "nifti",
            ]
        )
        == 0
    )
    patient = load_patient(tiny_patients / "p1", masks=None)
    image = nib.load(tmp_path / "p1" / "liver_pred.nii.gz")
    np.testing.assert_allclose(image.affine, patient.geometry.affine_ras(), atol=1e-4)
    assert image.shape == (patient.shape[2], patient.shape[1], patient.shape[0])


def test_cancelled_mask_write_leaves_no_partial_files(tiny_patients: Path, tmp_path: Path) -> None:
    from ctseg_core.io.masks import write_ircad_mask

    patient = load_patient(tiny_patients / "p2", masks=["liver"])
    calls = iter(range(1000))
    with pytest.raises(errors.Cancelled):
        write_ircad_mask(patient.masks["liver"], patient, tmp_path, should_cancel=lambda: next(calls) > 3)
    assert list((tmp_path / "MASKS_DICOM").iterdir()) == []


def test_written_ircad_mask_loads_back_identically(tiny_patients: Path, tmp_path: Path) -> None:
    from ctseg_core.io.masks import write_ircad_mask

    copy = tmp_path / "p"
    shutil.copytree(tiny_patients / "p2" / "PATIENT_DICOM", copy / "PATIENT_DICOM")
    patient = load_patient(tiny_patients / "p2", masks=["liver"])
    write_ircad_mask(patient.masks["liver"], patient, copy, name="liver")
    again = load_patient(copy, masks=["liver"])
    np.testing.assert_array_equal(again.masks["liver"], patient.masks["liver"])


@pytest.mark.slow
def test_bundled_model_segments_a_fresh_phantom() -> None:
    phantom = make_phantom(seed=777, slices=48)
    result = Segmenter.load().predict(phantom.hu, phantom.spacing_mm)
    assert dice(result.mask, phantom.masks["liver"]) >= 0.9


def test_segment_cli_dicom_seg(tiny_model: Path, tiny_patients: Path, tmp_path: Path) -> None:
    from ctseg_core.io.seg import read_dicom_seg

    assert (
        main(
            [
                "segment",
                str(tiny_patients / "p0"),
                "--model",
                str(tiny_model),
                "--out",
                str(tmp_path),
                "--format",
                "seg",
                "--json",
            ]
        )
        == 0
    )
    patient = load_patient(tiny_patients / "p0", masks=None)
    segments = read_dicom_seg(tmp_path / "p0" / "liver_pred.seg.dcm", patient)
    assert list(segments) == ["liver"] and segments["liver"].shape == patient.shape
