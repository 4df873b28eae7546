"""Crash recovery: the label being edited is autosaved beside the cache, so a crash loses no work.

Each patient gets a folder ``<cache>/recovery/<hash of its resolved path>/`` (cache: ``$CTSEG_CACHE``,
default ``~/.cache/ctseg``). Each label in it is a bit-packed compressed npz plus a JSON sidecar naming
the CT it belongs to (series UID, shape, sha256 of the HU volume). Both are written atomically, the npz
under a fresh name first and the JSON last, so a crash mid-save leaves the previous pair intact.
A recovery is offered only for the very same CT: same series, same shape, same HU.
A label of named segments keeps each segment's mask packed (``bits_<value>``: segments may overlap
while they are edited) and the segments' values, names and colours in the sidecar.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ctseg_core._version import __version__
from ctseg_core.cache import default_cache_dir
from ctseg_core.errors import CtsegError
from ctseg_core.io.atomic import atomic_path
from ctseg_core.io.patient import Patient
from ctseg_core.io.segments import Segment
from ctseg_core.io.summary import hu_sha256

#: A label of named segments: each segment with its bool [z, y, x] mask, in table order.
SegmentMasks = list[tuple[Segment, np.ndarray]]

FORMAT_VERSION = 1
_TOKEN_DIGITS = 12


@dataclass(frozen=True)
class RecoveryInfo:
    """An autosaved label found for a patient: where it is and when it was saved."""

    path: Path  # the JSON sidecar
    mask_path: Path  # the npz holding the packed label
    patient_path: str
    series_uid: str
    shape: tuple[int, int, int]
    hu_sha256: str
    name: str
    saved_at: str  # ISO 8601, UTC
    edits: int  # unsaved edits at the time of the autosave
    segments: tuple[Segment, ...] = ()  # a label map's segments; empty for a lone bool label


def recovery_path(patient_path: str | Path) -> Path:
    """The recovery folder of a patient, keyed by a hash of its resolved path."""
    resolved = str(Path(patient_path).expanduser().resolve())
    key = hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:24]
    return default_cache_dir() / "recovery" / key


def _file_stem(name: str) -> str:
    """A file-name-safe form of a label name (the JSON keeps the real name); never a glob pattern."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


def _mask_pattern(stem: str) -> str:
    """Glob of the npz files of label ``stem``: its name, a dash and a 12-hex-digit token."""
    return f"{stem}-{'[0-9a-f]' * _TOKEN_DIGITS}.npz"


def _write_arrays(fh: object, label: np.ndarray | SegmentMasks) -> None:
    if isinstance(label, np.ndarray):
        np.savez_compressed(fh, bits=np.packbits(label.astype(bool, copy=False)), shape=np.array(label.shape))  # type: ignore[arg-type]
        return
    arrays = {f"bits_{segment.value}": np.packbits(mask.astype(bool, copy=False)) for segment, mask in label}
    np.savez_compressed(fh, shape=np.array(label[0][1].shape), **arrays)  # type: ignore[arg-type]


def _segment_rows(label: np.ndarray | SegmentMasks) -> list[dict[str, object]]:
    if isinstance(label, np.ndarray):
        return []
    return [{"value": s.value, "name": s.name, "color": list(s.color)} for s, _ in label]


def _shape(label: np.ndarray | SegmentMasks) -> tuple[int, ...]:
    if isinstance(label, np.ndarray):
        return tuple(label.shape)
    if not label or any(mask.shape != label[0][1].shape for _, mask in label):
        raise ValueError("a label of segments needs at least one segment, all masks of one shape")
    return tuple(label[0][1].shape)


def save_recovery(label: np.ndarray | SegmentMasks, patient: Patient, name: str, edits: int) -> Path:
    """Autosave label ``name`` of a patient (bool [z, y, x], or named segments with their masks);
    the JSON sidecar's path."""
    if _shape(label) != patient.shape:
        raise ValueError(f"label shape {_shape(label)} differs from the CT's {patient.shape}")
    folder = recovery_path(patient.source_path)
    stem = _file_stem(name)
    mask_path = folder / f"{stem}-{uuid.uuid4().hex[:_TOKEN_DIGITS]}.npz"
    with atomic_path(mask_path, suffix=".npz") as temporary, open(temporary, "wb") as fh:
        _write_arrays(fh, label)
    meta = {
        "format": FORMAT_VERSION,
        "ctseg_version": __version__,
        "mask_file": mask_path.name,
        "patient_path": str(Path(patient.source_path).expanduser().resolve()),
        "series_uid": patient.series_uid,
        "shape": list(patient.shape),
        "hu_sha256": hu_sha256(patient.hu),
        "name": name,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "edits": int(edits),
        "segments": _segment_rows(label),
    }
    json_path = folder / f"{stem}.json"
    with atomic_path(json_path, suffix=".json") as temporary:
        temporary.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    for stale in folder.glob(_mask_pattern(stem)):
        if stale != mask_path:
            stale.unlink(missing_ok=True)
    return json_path


#: What a damaged npz raises from ``np.load`` (a truncated file is a bad zip; a torn member, zlib's error).
_UNREADABLE_NPZ = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


def _read_info(json_path: Path) -> RecoveryInfo | None:
    """The sidecar's content, or None when it is unreadable or its npz is gone (see :func:`set_aside_damaged`)."""
    try:
        return _parse_info(json_path)
    except _Damaged:
        return None


class _Damaged(Exception):
    """An autosave that cannot be offered, and why."""


def _parse_info(json_path: Path) -> RecoveryInfo:
    """The sidecar's content; _Damaged saying what is wrong with it or its npz."""
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        info = RecoveryInfo(
            path=json_path,
            mask_path=json_path.parent / str(meta["mask_file"]),
            patient_path=str(meta["patient_path"]),
            series_uid=str(meta["series_uid"]),
            shape=tuple(int(n) for n in meta["shape"]),  # type: ignore[arg-type]  # a 3-tuple read from the sidecar JSON
            hu_sha256=str(meta["hu_sha256"]),
            name=str(meta["name"]),
            saved_at=str(meta["saved_at"]),
            edits=int(meta["edits"]),
            segments=tuple(_segment(row) for row in meta.get("segments", [])),
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise _Damaged(f"its description {json_path.name} cannot be read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise _Damaged(f"its description {json_path.name} is not JSON ({exc})") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise _Damaged(f"its description {json_path.name} lacks or garbles a field ({exc!r})") from exc
    if not info.mask_path.is_file():
        raise _Damaged(f"its label arrays ({info.mask_path.name}) are missing")
    return info


def set_aside(*paths: Path) -> list[Path]:
    """Rename damaged autosave files out of the way (``<name>.damaged-<UTC time>``), never deleting
    them: the user's edits may still be rescued by hand. The new paths."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    moved = []
    for path in paths:
        if path.is_file():
            target = path.with_name(f"{path.name}.damaged-{stamp}-{uuid.uuid4().hex[:6]}")
            path.rename(target)
            moved.append(target)
    return moved


def set_aside_damaged(patient: Patient) -> list[str]:
    """Set aside every autosave of this patient that cannot be offered (a sidecar that is not JSON or
    lacks fields, label arrays missing), and say so: one message each, for the patient's warnings."""
    folder = recovery_path(patient.source_path)
    if not folder.is_dir():
        return []
    messages = []
    for json_path in sorted(folder.glob("*.json")):
        try:
            _parse_info(json_path)
        except _Damaged as damaged:
            moved = set_aside(json_path)
            where = moved[0] if moved else json_path
            messages.append(f"autosaved label not offered: {damaged}; set aside as {where}")
    return messages


def _recoveries(patient: Patient, name: str | None) -> list[RecoveryInfo]:
    folder = recovery_path(patient.source_path)
    if not folder.is_dir():
        return []
    infos = [info for p in sorted(folder.glob("*.json")) if (info := _read_info(p)) is not None]
    return [info for info in infos if name is None or info.name == name]


def find_recovery(patient: Patient, name: str | None = None) -> RecoveryInfo | None:
    """The newest autosave of this very CT (label ``name``, or any label), else None.

    An autosave of another series, another shape or other HU (the folder now holds another scan) is
    never offered.
    """
    candidates = [
        info
        for info in _recoveries(patient, name)
        if info.series_uid == patient.series_uid and info.shape == patient.shape
    ]
    if not candidates:
        return None
    checksum = hu_sha256(patient.hu)
    matching = [info for info in candidates if info.hu_sha256 == checksum]
    return max(matching, key=lambda info: info.saved_at) if matching else None


def _segment(row: dict[str, object]) -> Segment:
    """A segment of the sidecar's table (value, name, colour)."""
    red, green, blue = (int(c) for c in row["color"])  # type: ignore[attr-defined]  # a JSON list
    return Segment(int(row["value"]), str(row["name"]), (red, green, blue))  # type: ignore[call-overload]


def load_recovery_segments(info: RecoveryInfo) -> SegmentMasks:
    """The autosaved segments with their masks (a lone bool label: none, read it with
    :func:`load_recovery`); a damaged one is set aside and a CtsegError says what is wrong."""
    count = int(np.prod(info.shape))
    try:
        with np.load(info.mask_path) as data:
            packed = [data[f"bits_{segment.value}"] for segment in info.segments]
    except _UNREADABLE_NPZ as exc:
        problem = f"is unreadable, perhaps truncated by a crash ({type(exc).__name__}: {exc})"
        raise _damaged_autosave(info, problem) from exc
    if any(bits.size * 8 < count for bits in packed):
        raise _damaged_autosave(info, f"holds fewer voxels than its shape {info.shape}")
    masks = [np.unpackbits(bits, count=count).reshape(info.shape).view(bool) for bits in packed]
    return list(zip(info.segments, masks, strict=True))


def load_recovery(info: RecoveryInfo) -> np.ndarray:
    """The autosaved label as bool [z, y, x]; a damaged one is set aside (:func:`set_aside`) and a
    CtsegError says what is wrong, so the patient opens without it."""
    try:
        with np.load(info.mask_path) as data:
            bits, shape = data["bits"], tuple(int(n) for n in data["shape"])
    except _UNREADABLE_NPZ as exc:
        problem = f"is unreadable, perhaps truncated by a crash ({type(exc).__name__}: {exc})"
        raise _damaged_autosave(info, problem) from exc
    if shape != info.shape or bits.size * 8 < int(np.prod(shape)):
        raise _damaged_autosave(info, f"holds shape {shape}, expected {info.shape}")
    return np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape).view(bool)


def _damaged_autosave(info: RecoveryInfo, problem: str) -> CtsegError:
    """Set a damaged autosave aside (renamed, so it is not offered again) and the error saying so."""
    moved = set_aside(info.mask_path, info.path)
    where = f"; set aside as {moved[0]}" if moved else ""
    return CtsegError(info.mask_path, f"the autosaved label {problem}{where}")


def discard_recovery(patient: Patient, name: str | None = None) -> None:
    """Delete the autosaves of a patient (of label ``name``, or all): after a save or a refusal."""
    folder = recovery_path(patient.source_path)
    if not folder.is_dir():
        return
    stem = "*" if name is None else _file_stem(name)
    for path in [*folder.glob(f"{stem}.json"), *folder.glob(_mask_pattern(stem))]:
        path.unlink(missing_ok=True)
    if not any(folder.iterdir()):
        folder.rmdir()
