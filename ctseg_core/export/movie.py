"""A movie through the axial slices, with the masks drawn: for a talk, a ticket, a colleague.

One frame per axial slice, inferior to superior (the volume's z order), the CT windowed with a
preset, each mask filled semi-transparently and outlined in the viewer's colours, at the
physical aspect (pixels resampled to square). Frames are shown as the viewer shows them:
anterior at the top, patient right on the screen's left; letters in the margins say so on
frames large enough to carry them. A thin bar under each frame shows how far through the
stack it is, which also keeps every frame distinct: GIF writers merge identical consecutive
frames, and a movie of N slices should have N frames.

Formats by suffix: ``.gif`` (Pillow, always) and ``.mp4`` (H.264 through ``imageio-ffmpeg``,
when that optional package is installed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from ctseg_core.display.planes import Plane
from ctseg_core.display.windowing import PRESETS, Window, apply_window
from ctseg_core.errors import CtsegError
from ctseg_core.export.overlays import RGB, OverlayStyle, check_volume_inputs, composite, overlay_colours
from ctseg_core.io.atomic import atomic_path
from ctseg_core.progress import CancelCheck, ProgressCallback, raise_if_cancelled

MOVIE_SUFFIXES = (".gif", ".mp4")
#: Height (pixels) of the position bar under each frame.
BAR_PIXELS = 4
#: Frames narrower or lower than this get no orientation letters (they would hide the image).
LETTERS_MIN_PIXELS = 96


def mp4_available() -> bool:
    """True when ``imageio-ffmpeg`` (which ships its own ffmpeg) is installed."""
    try:
        import imageio_ffmpeg  # noqa: F401  # imported only to see whether it is installed
    except ImportError:
        return False
    return True


def _draw_letters(frame: np.ndarray) -> np.ndarray:
    """Orientation letters of an axial frame (A top, P bottom, R left, L right), light grey."""
    height, width = frame.shape[:2]
    if min(height, width) < LETTERS_MIN_PIXELS:
        return frame
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    size = max(10, min(height, width) // 24)
    font = ImageFont.load_default(size=size)
    grey = (220, 220, 220)
    margin = max(2, size // 3)
    top, bottom, left, right = Plane.AXIAL.letters
    spots = [
        (top, (width / 2, margin, "mt")),
        (bottom, (width / 2, height - margin, "mb")),
        (left, (margin, height / 2, "lm")),
        (right, (width - margin, height / 2, "rm")),
    ]
    for letter, (x, y, anchor) in spots:
        draw.text((x, y), letter, fill=grey, font=font, anchor=anchor, stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(image)


def _with_position_bar(frame: np.ndarray, index: int, count: int) -> np.ndarray:
    """The frame with a grey bar beneath it, filled to (index + 1) / count of its width."""
    width = frame.shape[1]
    bar = np.full((BAR_PIXELS, width, 3), 40, dtype=np.uint8)
    bar[:, : max(1, round(width * (index + 1) / count))] = 200
    return np.concatenate([frame, bar], axis=0)


def slice_frames(
    hu: np.ndarray,
    overlays: Mapping[str, np.ndarray],
    *,
    spacing_mm: Sequence[float],
    window: Window = PRESETS["Abdomen"],
    colours: Mapping[str, RGB] | None = None,
    opacity: float = 0.35,
    style: OverlayStyle = "fill+outline",
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> Iterator[np.ndarray]:
    """Yield the RGB uint8 frames of the movie, one per axial slice (inferior → superior)."""
    hu = np.asarray(hu)
    check_volume_inputs(hu, overlays, spacing_mm, kind="overlay")
    chosen = overlay_colours(overlays, colours)
    pixel_mm = (float(spacing_mm[1]), float(spacing_mm[2]))
    count = hu.shape[0]
    for k in range(count):
        raise_if_cancelled(should_cancel)
        grey = apply_window(hu[k], window)
        masks = {name: np.asarray(mask[k]) for name, mask in overlays.items()}
        frame = composite(grey, masks, chosen, pixel_mm, opacity=opacity, style=style)
        yield _with_position_bar(_draw_letters(frame), k, count)
        if progress is not None:
            progress(k + 1, count, "frames")


def _write_gif(frames: Iterable[np.ndarray], target: Path, fps: float) -> None:
    from PIL import Image

    images = [Image.fromarray(frame).quantize(colors=256, method=Image.Quantize.MEDIANCUT) for frame in frames]
    images[0].save(
        target,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=max(20, round(1000.0 / fps)),
        loop=0,
        optimize=False,
    )


def _write_mp4(frames: Iterable[np.ndarray], target: Path, fps: float) -> None:
    import imageio_ffmpeg

    writer = None
    try:
        for frame in frames:
            # yuv420p needs even sizes: pad with black rather than let ffmpeg rescale.
            rows, cols = frame.shape[0] + frame.shape[0] % 2, frame.shape[1] + frame.shape[1] % 2
            padded = np.zeros((rows, cols, 3), dtype=np.uint8)
            padded[: frame.shape[0], : frame.shape[1]] = frame
            if writer is None:
                writer = imageio_ffmpeg.write_frames(
                    str(target), (cols, rows), fps=fps, codec="libx264", quality=8, macro_block_size=2
                )
                writer.send(None)
            writer.send(np.ascontiguousarray(padded))
    finally:
        if writer is not None:
            writer.close()


def write_slice_movie(
    hu: np.ndarray,
    overlays: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    spacing_mm: Sequence[float],
    window: Window = PRESETS["Abdomen"],
    fps: float = 8.0,
    colours: Mapping[str, RGB] | None = None,
    opacity: float = 0.35,
    style: OverlayStyle = "fill+outline",
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> Path:
    """Write an animated GIF (or MP4) of the axial slices with the masks drawn, atomically.

    ``hu`` is the [z, y, x] CT in HU, ``overlays`` name → bool mask of the same shape (names
    "ground truth", "prediction", "edited" get the viewer's colours unless ``colours`` says
    otherwise), ``spacing_mm`` (dz, dy, dx). Returns the path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MOVIE_SUFFIXES:
        raise CtsegError(path, f"unknown movie format {path.suffix or '(no suffix)'}: use .gif or .mp4")
    if suffix == ".mp4" and not mp4_available():
        raise CtsegError(path, "writing MP4 needs the imageio-ffmpeg package; install it or write a .gif")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    hu = np.asarray(hu)
    check_volume_inputs(hu, overlays, spacing_mm, kind="overlay")
    frames = slice_frames(
        hu,
        overlays,
        spacing_mm=spacing_mm,
        window=window,
        colours=colours,
        opacity=opacity,
        style=style,
        progress=progress,
        should_cancel=should_cancel,
    )
    try:
        with atomic_path(path, suffix=suffix) as temporary:
            (_write_gif if suffix == ".gif" else _write_mp4)(frames, temporary, fps)
    except OSError as error:
        raise CtsegError(path, f"cannot write the movie: {error.strerror or error}") from error
    return path
