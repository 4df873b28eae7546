"""Slice movies: one frame per axial slice, the masks' colours exactly where the masks are, and
frames at the physical aspect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from ctseg_core.display.windowing import PRESETS
from ctseg_core.errors import Cancelled, CtsegError
from ctseg_core.export.movie import BAR_PIXELS, mp4_available, write_slice_movie

SPACING = (2.5, 0.7, 1.05)  # in-plane pixels 1.5× wider than tall: frames must be resampled
SLICES = 12


def _volume() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 12-slice CT (body at soft-tissue HU in air) with a round 'organ' on slices 3–8 and a
    prediction on slices 5–10."""
    z, y, x = np.meshgrid(np.arange(SLICES), np.arange(40), np.arange(48), indexing="ij")
    rng = np.random.default_rng(1)
    hu = np.where(((y - 20) * 0.7 / 13) ** 2 + ((x - 24) * 1.05 / 22) ** 2 < 1, 40, -1000)
    hu = (hu + rng.normal(0, 15, hu.shape)).astype(np.int16)
    disc = ((y - 20) * 0.7) ** 2 + ((x - 22) * 1.05) ** 2 < 8.0**2  # round in mm, not in pixels
    truth = disc & (z >= 3) & (z <= 8)
    prediction = np.roll(disc, 3, axis=2) & (z >= 5) & (z <= 10)
    return hu, truth, prediction


def _greenish(frame: np.ndarray) -> np.ndarray:
    rgb = frame.astype(int)
    return (rgb[..., 1] - np.maximum(rgb[..., 0], rgb[..., 2])) > 40


def _magentaish(frame: np.ndarray) -> np.ndarray:
    rgb = frame.astype(int)
    return (np.minimum(rgb[..., 0], rgb[..., 2]) - rgb[..., 1]) > 40


def _frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as movie:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(movie)]


def test_gif_has_one_frame_per_slice_with_colours_only_where_masks_are(tmp_path: Path) -> None:
    hu, truth, prediction = _volume()
    path = write_slice_movie(
        hu, {"ground truth": truth, "prediction": prediction}, tmp_path / "liver.gif", spacing_mm=SPACING, fps=5
    )

    frames = _frames(path)

    assert len(frames) == SLICES
    for k, frame in enumerate(frames):
        assert _greenish(frame).any() == bool(truth[k].any()), f"ground-truth green on slice {k}"
        assert _magentaish(frame).any() == bool(prediction[k].any()), f"prediction magenta on slice {k}"
    with Image.open(path) as movie:
        assert movie.info["duration"] == 200  # 5 frames per second
        assert movie.info.get("loop") == 0  # plays on repeat


def test_frames_keep_the_physical_aspect(tmp_path: Path) -> None:
    hu, truth, _prediction = _volume()
    path = write_slice_movie(hu, {"ground truth": truth}, tmp_path / "liver.gif", spacing_mm=SPACING)
    frame = _frames(path)[5]
    # 48 columns of 1.05 mm shown as 72 square pixels of 0.7 mm; 40 rows stay 40, plus the bar.
    assert frame.shape[:2] == (40 + BAR_PIXELS, 72)
    rows, cols = np.nonzero(_greenish(frame))
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert width == pytest.approx(height, rel=0.1)  # a disc in mm is a disc on screen


def test_identical_slices_still_give_one_frame_each(tmp_path: Path) -> None:
    hu = np.full((SLICES, 16, 16), 40, dtype=np.int16)  # GIF writers merge identical frames
    path = write_slice_movie(hu, {}, tmp_path / "flat.gif", spacing_mm=(1.0, 1.0, 1.0), window=PRESETS["Liver"])
    assert len(_frames(path)) == SLICES


@pytest.mark.skipif(not mp4_available(), reason="imageio-ffmpeg is not installed (MP4 export is optional)")
def test_mp4_has_one_frame_per_slice(tmp_path: Path) -> None:
    import imageio_ffmpeg

    hu, truth, prediction = _volume()
    path = write_slice_movie(
        hu, {"ground truth": truth, "prediction": prediction}, tmp_path / "liver.mp4", spacing_mm=SPACING
    )
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = list(reader)
    assert len(frames) == SLICES
    assert meta["size"] == (72, 40 + BAR_PIXELS)
    assert [p.name for p in tmp_path.iterdir()] == ["liver.mp4"]


def test_unknown_format_and_cancel_leave_nothing_behind(tmp_path: Path) -> None:
    hu, truth, _prediction = _volume()
    with pytest.raises(CtsegError, match=r"liver\.avi.*\.gif or \.mp4"):
        write_slice_movie(hu, {"ground truth": truth}, tmp_path / "liver.avi", spacing_mm=SPACING)
    calls = []

    def cancel_after_three() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        write_slice_movie(
            hu, {"ground truth": truth}, tmp_path / "liver.gif", spacing_mm=SPACING, should_cancel=cancel_after_three
        )
    assert not any(tmp_path.iterdir())


def test_mask_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    hu, truth, _prediction = _volume()
    with pytest.raises(ValueError, match="shape"):
        write_slice_movie(hu, {"ground truth": truth[:, :, :-1]}, tmp_path / "x.gif", spacing_mm=SPACING)
