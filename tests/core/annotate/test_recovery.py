"""Crash recovery: autosaves found again for the same CT only, loaded exactly, discarded on request."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from ctseg_core.annotate.recovery import (
    discard_recovery,
    find_recovery,
    load_recovery,
    recovery_path,
    save_recovery,
)
from ctseg_core.io.loading import load_patient
from ctseg_core.io.patient import Patient
from ctseg_core.synth.phantom import write_phantom


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Patient:
    folder = write_phantom(tmp_path_factory.mktemp("recovery") / "p", seed=6, slices=8, size=256)
    return load_patient(folder, masks=["liver"])


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CTSEG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _edited(patient: Patient) -> np.ndarray:
    label = patient.masks["liver"].copy()
    label[3, 40:60, 40:60] = ~label[3, 40:60, 40:60]
    return label


def test_save_find_load_gives_the_identical_label(patient: Patient, cache: Path) -> None:
    label = _edited(patient)
    saved = save_recovery(label, patient, "liver", edits=7)
    assert saved.is_relative_to(cache / "recovery")
    info = find_recovery(patient)
    assert info is not None
    assert (info.name, info.edits) == ("liver", 7)
    assert (info.series_uid, info.shape) == (patient.series_uid, patient.shape)
    restored = load_recovery(info)
    assert restored.dtype == bool
    np.testing.assert_array_equal(restored, label)


def test_recovery_folder_is_keyed_by_the_resolved_patient_path(patient: Patient, cache: Path) -> None:
    folder = recovery_path(patient.source_path)
    assert folder.parent == cache / "recovery"
    relative = os.path.relpath(patient.source_path)
    assert recovery_path(relative) == folder
    assert recovery_path(patient.source_path.parent / "other") != folder


def test_default_location_is_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CTSEG_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert recovery_path("/data/p1").parent == tmp_path / "home" / ".cache" / "ctseg" / "recovery"


def test_another_series_shape_or_scan_finds_nothing(patient: Patient) -> None:
    save_recovery(_edited(patient), patient, "liver", edits=1)
    assert find_recovery(dataclasses.replace(patient, series_uid="1.2.3.4")) is None
    assert find_recovery(dataclasses.replace(patient, hu=patient.hu[:4])) is None
    other_hu = patient.hu.copy()
    other_hu[0, 0, 0] += 1  # same folder and series, but the scan changed on disk
    assert find_recovery(dataclasses.replace(patient, hu=other_hu)) is None
    assert find_recovery(patient) is not None


def test_discard_removes_the_autosave(patient: Patient) -> None:
    save_recovery(_edited(patient), patient, "liver", edits=1)
    discard_recovery(patient)
    assert find_recovery(patient) is None
    assert not recovery_path(patient.source_path).exists()
    discard_recovery(patient)  # nothing left to discard: no error


def test_saving_again_keeps_one_file_pair_with_the_newest_label(patient: Patient) -> None:
    first = _edited(patient)
    save_recovery(first, patient, "liver", edits=1)
    second = first.copy()
    second[5] = True
    save_recovery(second, patient, "liver", edits=2)
    folder = recovery_path(patient.source_path)
    assert sorted(p.suffix for p in folder.iterdir()) == [".json", ".npz"]
    info = find_recovery(patient, "liver")
    assert info is not None and info.edits == 2
    np.testing.assert_array_equal(load_recovery(info), second)


def test_labels_are_kept_apart_by_name(patient: Patient) -> None:
    liver = _edited(patient)
    tumour = np.zeros(patient.shape, dtype=bool)
    tumour[4, 100:110, 100:110] = True
    save_recovery(liver, patient, "liver", edits=3)
    save_recovery(tumour, patient, "liver-tumour", edits=1)
    for name, label in (("liver", liver), ("liver-tumour", tumour)):
        info = find_recovery(patient, name)
        assert info is not None
        np.testing.assert_array_equal(load_recovery(info), label)
    discard_recovery(patient, "liver")
    assert find_recovery(patient, "liver") is None
    assert find_recovery(patient, "liver-tumour") is not None


def test_unreadable_sidecar_is_ignored(patient: Patient) -> None:
    json_path = save_recovery(_edited(patient), patient, "liver", edits=1)
    json_path.write_text("{ not json", encoding="utf-8")
    assert find_recovery(patient) is None


def test_label_of_the_wrong_shape_is_refused(patient: Patient) -> None:
    with pytest.raises(ValueError, match="shape"):
        save_recovery(np.zeros((2, 3, 4), dtype=bool), patient, "liver", edits=1)
