"""``ctseg export`` (mesh, movie) and ``ctseg segment --report`` end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from ctseg_core.cli import main
from ctseg_core.io.loading import load_patient
from ctseg_core.metrics import volume_ml
from ctseg_core.synth.phantom import write_phantom


@pytest.fixture(scope="module")
def patient_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom(tmp_path_factory.mktemp("export") / "p", seed=2, slices=16, size=128)


def test_mesh_export_is_watertight_in_lps_and_holds_the_mask_volume(patient_dir: Path, tmp_path: Path) -> None:
    assert main(["export", str(patient_dir), "--mask", "liver", "--mesh", str(tmp_path / "liver.stl")]) == 0
    mesh = trimesh.load(tmp_path / "liver.stl")
    patient = load_patient(patient_dir, masks=["liver"])
    expected = volume_ml(patient.masks["liver"], patient.spacing_mm)
    assert mesh.is_watertight
    assert abs(mesh.volume / 1000 - expected) <= 0.03 * expected
    z, y, x = np.argwhere(patient.masks["liver"]).mean(axis=0)
    centre = patient.geometry.voxel_to_mm(z, y, x)
    assert np.linalg.norm(mesh.bounds.mean(axis=0) - centre) < 30  # LPS millimetres, around the liver
    assert b"SPACE=LPS" in (tmp_path / "liver.stl").read_bytes()[:80]


def test_gif_has_one_frame_per_slice(patient_dir: Path, tmp_path: Path) -> None:
    assert (
        main(["export", str(patient_dir), "--mask", "liver", "--gif", str(tmp_path / "liver.gif"), "--window", "Liver"])
        == 0
    )
    assert Image.open(tmp_path / "liver.gif").n_frames == 16


def test_export_errors_name_the_problem(patient_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(patient_dir), "--mask", "pancreas", "--mesh", str(tmp_path / "x.stl")]) == 2
    assert "pancreas: no such mask or label file; masks of this patient: liver" in capsys.readouterr().err
    assert main(["export", str(patient_dir), "--mask", "liver"]) == 2
    assert "nothing to export" in capsys.readouterr().err


def test_segment_report_writes_a_self_contained_page(tiny_model: Path, patient_dir: Path, tmp_path: Path) -> None:
    code = main(["segment", str(patient_dir), "--model", str(tiny_model), "--out", str(tmp_path), "--report"])
    assert code == 0
    page = (tmp_path / "p" / "report.html").read_text()
    assert "data:image/png;base64" in page and "http://" not in page and "https://" not in page
    assert "Dice" in page
