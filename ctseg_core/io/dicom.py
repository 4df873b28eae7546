"""Reading DICOM slices fast and correctly: headers first, then pixels into one int16 volume.

Two passes: the header pass reads only the tags (and where the pixel bytes start), so slices can
be grouped into series and ordered by geometry before any pixel is touched; the pixel pass then
reads each slice straight into its place in a preallocated volume. Uncompressed little-endian
pixel data is read with ``readinto`` (no intermediate copies); anything else (JPEG lossless,
JPEG 2000, big endian…) is decoded by pydicom with the pylibjpeg plugins.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ctseg_core.errors import AllFilesCorruptError, Cancelled, EmptyFolderError, NoDicomError, UnreadableSlice
from ctseg_core.io.sources import KEEP_MEMBER_BYTES, DicomSource
from ctseg_core.progress import CancelCheck, ProgressCallback

_PIXEL_TAG = b"\xe0\x7f\x10\x00"
_PIXEL_TAG_BIG_ENDIAN = b"\x7f\xe0\x00\x10"
_UNCOMPRESSED_LE = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
_HU_MIN, _HU_MAX = np.iinfo(np.int16).min, np.iinfo(np.int16).max
#: DICOM objects with these modalities are not images to segment (segmentations, structure sets,
#: dose grids, reports), even when they carry rows and columns.
NON_IMAGE_MODALITIES = frozenset({"SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "SR", "KO", "PR", "REG", "DOC"})


def reader_threads() -> int:
    """Threads for file reading: I/O and zlib release the GIL, parsing does not (measured: 4 is best on 2 cores)."""
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


@dataclass
class SliceHeader:
    """The tags ctseg needs from one DICOM slice, and where its pixels are."""

    entry: str
    name: str
    series_uid: str
    study_uid: str
    frame_of_reference_uid: str
    sop_instance_uid: str
    sop_class_uid: str
    modality: str
    patient_name: str
    patient_id: str
    series_description: str
    rows: int
    columns: int
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    instance_number: int | None
    slope: float
    intercept: float
    slice_thickness: float | None
    spacing_between_slices: float | None
    has_pixels: bool
    #: byte offset of raw little-endian pixel values, or None when pydicom must decode them
    pixel_offset: int | None
    pixel_dtype: str
    bits_stored: int
    #: the slice's bytes, kept for sources that are not files (zip members)
    raw: bytes | None = None
    #: frame index (0-based) inside a multi-frame (Enhanced CT) file, None for single-frame files
    frame: int | None = None
    #: ImageType values, upper case (LOCALIZER marks scout views)
    image_type: tuple[str, ...] = ()
    #: stored values that are padding outside the scanned field of view (PixelPaddingValue up to
    #: PixelPaddingRangeLimit, inclusive), None when the slice declares none
    padding: tuple[int, int] | None = None

    @property
    def is_image(self) -> bool:
        """A slice of a scan: rows and columns, and not a segmentation, structure set or report."""
        return self.rows > 0 and self.columns > 0 and self.modality.upper() not in NON_IMAGE_MODALITIES


def looks_like_dicom(head: bytes) -> bool:
    """DICM at offset 128, or (legacy files without preamble) a group 0x0002/0x0008 tag at offset 0."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    group, element = struct.unpack("<HH", head[:4])
    return group in (0x0002, 0x0008) and element < 0x1000


def _number(value: object, default: float | None = None) -> float | None:
    try:
        return float(value) if value is not None and value != "" else default  # type: ignore[arg-type]  # any DICOM value; bad ones raise
    except (TypeError, ValueError):
        return default


def _float(value: object, default: float) -> float:
    """A DICOM number, or ``default`` when absent or unreadable (0 stays 0: callers decide)."""
    number = _number(value, default)
    return default if number is None else number


def _triple(value: object) -> tuple[float, ...] | None:
    try:
        values = tuple(float(v) for v in value)  # type: ignore[attr-defined]  # any DICOM value; non-iterables raise
    except (TypeError, ValueError):
        return None
    return values if values else None


def read_header(source: DicomSource, entry: str) -> list[SliceHeader] | None:
    """Parse one entry's tags: one header per slice (several for a multi-frame Enhanced CT).

    None for non-DICOM files; raises :class:`UnreadableSlice` if corrupt.
    """
    name = source.display_name(entry)
    try:
        with source.open(entry) as fh:
            head = fh.read(132)
            if not looks_like_dicom(head):
                return None
            fh.seek(0)
            ds = pydicom.dcmread(fh, stop_before_pixels=True, force=True)
            pixel_start = fh.tell()
            element_head = fh.read(12)
            raw = _read_all(fh) if _may_keep(source, entry) else None
    except PermissionError as exc:
        raise UnreadableSlice(name, "permission denied") from exc
    except (
        InvalidDicomError,
        OSError,
        EOFError,
        ValueError,
        struct.error,
        KeyError,
        TypeError,
        zipfile.BadZipFile,
        zlib.error,
        RecursionError,
        OverflowError,
    ) as exc:
        raise UnreadableSlice(name, f"not readable as DICOM ({exc.__class__.__name__}: {exc})") from exc
    try:
        header = _header_from_dataset(ds, source, entry, name, pixel_start, element_head, raw)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        headers = _frame_headers(ds, header, frames) if frames > 1 and header.is_image else [header]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UnreadableSlice(name, f"malformed DICOM tags ({exc})") from exc
    if not header.is_image and not header.sop_class_uid:
        raise UnreadableSlice(name, "no SOP Class UID and no image: not readable as DICOM")
    return headers


def _may_keep(source: DicomSource, entry: str) -> bool:
    """Whether a zip member's bytes are kept for the pixel pass: small enough, and within the archive's budget."""
    if source.is_file_backed() or source.size(entry) > KEEP_MEMBER_BYTES:
        return False
    reserve = getattr(source, "reserve", None)
    return bool(reserve(source.size(entry))) if reserve is not None else True


def _functional(ds: pydicom.Dataset, frame_groups: pydicom.Dataset | None, sequence: str) -> pydicom.Dataset | None:
    """A functional group item of one frame: per-frame if present there, else shared."""
    for groups in (frame_groups, _first(ds.get("SharedFunctionalGroupsSequence"))):
        item = _first(groups.get(sequence)) if groups is not None else None
        if item is not None:
            return item
    return None


def _first(sequence: object) -> pydicom.Dataset | None:
    try:
        return sequence[0] if sequence else None  # type: ignore[index]  # a pydicom Sequence
    except (TypeError, IndexError):
        return None


def _frame_headers(ds: pydicom.Dataset, base: SliceHeader, frames: int) -> list[SliceHeader]:
    """One header per frame of an Enhanced (multi-frame) image, from its functional groups.

    Position per frame (PlanePositionSequence), orientation, pixel spacing and rescale per frame or
    shared; uncompressed little-endian frames are read in place, others decoded frame by frame.
    """
    import dataclasses

    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    if per_frame and len(per_frame) != frames:
        raise ValueError(f"{len(per_frame)} per-frame functional groups for {frames} frames")
    frame_bytes = base.rows * base.columns * (np.dtype(base.pixel_dtype).itemsize if base.pixel_dtype else 2)
    headers = []
    for index in range(frames):
        groups = per_frame[index] if per_frame else None
        plane = _functional(ds, groups, "PlanePositionSequence")
        orientation = _functional(ds, groups, "PlaneOrientationSequence")
        measures = _functional(ds, groups, "PixelMeasuresSequence")
        rescale = _functional(ds, groups, "PixelValueTransformationSequence")
        position = _triple(plane.get("ImagePositionPatient")) if plane is not None else base.position
        cosines = _triple(orientation.get("ImageOrientationPatient")) if orientation is not None else base.orientation
        spacing = _triple(measures.get("PixelSpacing")) if measures is not None else base.pixel_spacing
        thickness = _number(measures.get("SliceThickness")) if measures is not None else base.slice_thickness
        slope = _number(rescale.get("RescaleSlope"), 1.0) if rescale is not None else base.slope
        intercept = _number(rescale.get("RescaleIntercept"), 0.0) if rescale is not None else base.intercept
        headers.append(
            dataclasses.replace(
                base,
                name=f"{base.name} [frame {index + 1}]",
                position=position if position and len(position) == 3 else None,
                orientation=cosines if cosines and len(cosines) == 6 else None,
                pixel_spacing=(spacing[0], spacing[1]) if spacing and len(spacing) == 2 else None,
                slice_thickness=thickness,
                slope=slope if slope is not None else 1.0,
                intercept=intercept if intercept is not None else 0.0,
                instance_number=index + 1,
                pixel_offset=None if base.pixel_offset is None else base.pixel_offset + index * frame_bytes,
                frame=index,
            )
        )
    return headers


def _read_all(fh: BinaryIO) -> bytes:
    fh.seek(0)
    return fh.read()


@dataclass(frozen=True)
class _PixelFormat:
    """How a slice's pixel values are stored, from its image pixel tags."""

    rows: int
    columns: int
    frames: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    samples: int
    #: numpy dtype of one stored value ("" when ctseg cannot read it in place)
    dtype: str

    @classmethod
    def of(cls, ds: pydicom.Dataset) -> _PixelFormat:
        bits_allocated = int(ds.get("BitsAllocated", 16) or 16)
        signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
        return cls(
            rows=int(ds.get("Rows", 0) or 0),
            columns=int(ds.get("Columns", 0) or 0),
            frames=int(ds.get("NumberOfFrames", 1) or 1),
            bits_allocated=bits_allocated,
            bits_stored=int(ds.get("BitsStored", bits_allocated) or bits_allocated),
            signed=signed,
            samples=int(ds.get("SamplesPerPixel", 1) or 1),
            dtype={(8, False): "u1", (8, True): "i1", (16, False): "<u2", (16, True): "<i2"}.get(
                (bits_allocated, signed), ""
            ),
        )

    def expected_bytes(self) -> int:
        return self.rows * self.columns * np.dtype(self.dtype).itemsize * max(1, self.frames)


def _transfer_syntax(ds: pydicom.Dataset) -> str | None:
    """The file's transfer syntax; for a legacy file without file meta, the encoding pydicom found."""
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if syntax is None:
        implicit, little = getattr(ds, "original_encoding", (True, True))
        if little:
            syntax = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    return syntax


def _pixel_offset(
    ds: pydicom.Dataset, fmt: _PixelFormat, location: tuple[DicomSource, str, str], pixel_start: int, head: bytes
) -> int | None:
    """Where raw little-endian pixel values start in the file, so they are read in place without
    pydicom; None when pydicom must decode them. A pixel element or file too short is refused here."""
    source, entry, name = location
    syntax = _transfer_syntax(ds)
    if syntax not in _UNCOMPRESSED_LE or fmt.samples != 1 or not fmt.dtype:
        return None
    if syntax == ImplicitVRLittleEndian:
        length, data_start = struct.unpack("<I", head[4:8])[0], pixel_start + 8
    else:
        length, data_start = struct.unpack("<I", head[8:12])[0], pixel_start + 12
    if length == 0xFFFFFFFF or (fmt.signed and fmt.bits_stored < fmt.bits_allocated):
        return None
    expected = fmt.expected_bytes()
    if length < expected:
        frames = f" × {fmt.frames} frames" if fmt.frames > 1 else ""
        raise UnreadableSlice(
            name, f"pixel data element holds {length} bytes, {expected} expected for {fmt.rows}×{fmt.columns}{frames}"
        )
    available = source.size(entry) - data_start
    if available < expected:
        raise UnreadableSlice(
            name, f"file truncated: it ends {expected - available} bytes before the end of its pixel data"
        )
    return data_start


def _header_from_dataset(
    ds: pydicom.Dataset,
    source: DicomSource,
    entry: str,
    name: str,
    pixel_start: int,
    element_head: bytes,
    raw: bytes | None,
) -> SliceHeader:
    """The SliceHeader of a parsed dataset; its pixel element starts at ``pixel_start`` with ``element_head``."""
    has_pixels = element_head[:4] in (_PIXEL_TAG, _PIXEL_TAG_BIG_ENDIAN)
    fmt = _PixelFormat.of(ds)
    offset = _pixel_offset(ds, fmt, (source, entry, name), pixel_start, element_head) if has_pixels else None
    position = _triple(ds.get("ImagePositionPatient"))
    orientation = _triple(ds.get("ImageOrientationPatient"))
    spacing = _triple(ds.get("PixelSpacing"))
    instance = ds.get("InstanceNumber")
    image_type = ds.get("ImageType") or ()
    return SliceHeader(
        entry=entry,
        name=name,
        series_uid=_text(ds, "SeriesInstanceUID"),
        study_uid=_text(ds, "StudyInstanceUID"),
        frame_of_reference_uid=_text(ds, "FrameOfReferenceUID"),
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        sop_class_uid=_text(ds, "SOPClassUID"),
        modality=_text(ds, "Modality"),
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        series_description=_text(ds, "SeriesDescription"),
        rows=fmt.rows,
        columns=fmt.columns,
        position=position if position and len(position) == 3 else None,
        orientation=orientation if orientation and len(orientation) == 6 else None,
        pixel_spacing=(spacing[0], spacing[1]) if spacing and len(spacing) == 2 else None,
        instance_number=int(instance) if instance not in (None, "") else None,
        slope=_float(ds.get("RescaleSlope"), 1.0),
        intercept=_float(ds.get("RescaleIntercept"), 0.0),
        slice_thickness=_number(ds.get("SliceThickness")),
        spacing_between_slices=_number(ds.get("SpacingBetweenSlices")),
        has_pixels=has_pixels,
        pixel_offset=offset,
        pixel_dtype=fmt.dtype,
        bits_stored=fmt.bits_stored,
        raw=raw,
        image_type=tuple(str(v).upper() for v in (image_type if not isinstance(image_type, str) else [image_type])),
        padding=_padding_range(ds, fmt),
    )


def _stored_integer(value: object, signed: bool) -> int | None:
    """A US-or-SS tag's value as an int (pydicom leaves it as raw bytes when it cannot tell which VR)."""
    if isinstance(value, bytes):
        return int.from_bytes(value[:2], "little", signed=signed) if len(value) >= 2 else None
    try:
        return int(value)  # type: ignore[call-overload]  # any DICOM value; bad ones raise
    except (TypeError, ValueError):
        return None


def _padding_range(ds: pydicom.Dataset, fmt: _PixelFormat) -> tuple[int, int] | None:
    """The stored values marking padding (PixelPaddingValue, up to PixelPaddingRangeLimit), in the same
    form as the stored values read (unsigned values masked to BitsStored), or None."""
    value = _stored_integer(ds.get("PixelPaddingValue"), fmt.signed)
    if value is None:
        return None
    limit = _stored_integer(ds.get("PixelPaddingRangeLimit"), fmt.signed)
    if not fmt.signed:
        bits = (1 << fmt.bits_stored) - 1 if 0 < fmt.bits_stored < 32 else -1
        value = value & bits if value >= 0 else value
        limit = limit & bits if limit is not None and limit >= 0 else limit
    low, high = (value, value) if limit is None else (min(value, limit), max(value, limit))
    return low, high


def _text(ds: pydicom.Dataset, keyword: str) -> str:
    """A tag as text, "" when absent or empty."""
    return str(ds.get(keyword, "") or "")


def read_stored_values(source: DicomSource, header: SliceHeader) -> np.ndarray:
    """The slice's stored pixel values (before rescale), shape (rows, columns)."""
    count = header.rows * header.columns
    if header.pixel_offset is not None:
        dtype = np.dtype(header.pixel_dtype)
        if header.raw is not None:
            values = np.frombuffer(header.raw, dtype=dtype, count=count, offset=header.pixel_offset)
        else:
            values = np.empty(count, dtype=dtype)
            try:
                with source.open(header.entry) as fh:
                    fh.seek(header.pixel_offset)
                    read = fh.readinto(values.data.cast("B"))  # type: ignore[attr-defined]  # a binary stream
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                problem = f"pixel data cannot be read ({exc.__class__.__name__}: {exc})"
                raise UnreadableSlice(header.name, problem) from exc
            if read != values.nbytes:
                raise UnreadableSlice(header.name, "pixel data truncated: the file ends before its last pixel")
        if header.bits_stored < dtype.itemsize * 8 and dtype.kind == "u":
            values = values & np.array((1 << header.bits_stored) - 1, dtype=dtype)
        return values.reshape(header.rows, header.columns)
    try:
        if header.raw is not None:
            import io

            ds = pydicom.dcmread(io.BytesIO(header.raw), force=True)
        else:
            with source.open(header.entry) as fh:
                ds = pydicom.dcmread(fh, force=True)
        if header.frame is not None:
            from pydicom.pixels import pixel_array

            pixels = pixel_array(ds, index=header.frame)
        else:
            pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for undecodable pixel data
        raise UnreadableSlice(header.name, _decode_problem(exc, header)) from exc
    if pixels.shape != (header.rows, header.columns):
        raise UnreadableSlice(
            header.name,
            f"pixel data has shape {pixels.shape}, expected "
            f"{header.rows}×{header.columns} (multi-frame or colour images are not CT slices)",
        )
    return pixels


#: What padding outside the field of view becomes: air.
PADDING_HU = -1024


def padding_to_air(stored: np.ndarray, padding: tuple[int, int] | None, out: np.ndarray) -> int:
    """Set the voxels of ``out`` whose stored value is padding (:attr:`SliceHeader.padding`) to air; how many.

    Unsigned data padded with 63536 would otherwise read as +32767 HU: a bright ring round the field of view.
    """
    if padding is None:
        return 0
    low, high = padding
    padded = (stored >= low) & (stored <= high)
    count = int(np.count_nonzero(padded))
    if count:
        out[padded] = PADDING_HU
    return count


def _decode_problem(exc: Exception, header: SliceHeader) -> str:
    """What is wrong with compressed pixel data pydicom could not decode, in words a user acts on.

    A file cut short inside its encapsulated pixel data loses the element when read again (pydicom
    stops at the end of the file): that is a truncated file, not one without pixel data.
    """
    text = " ".join(str(exc).split())
    if header.has_pixels and "no 'Pixel Data'" in text:
        return "file truncated: it ends inside its compressed pixel data"
    return f"pixel data cannot be decoded ({text if len(text) <= 300 else text[:297] + '…'})"


def stored_to_hu(stored: np.ndarray, slope: float, intercept: float, out: np.ndarray) -> int:
    """Write HU = stored × RescaleSlope + RescaleIntercept into the int16 ``out``.

    Works one slice at a time so no float64 copy of the volume ever exists. Returns how many
    values fell outside int16 and were clipped.
    """
    if slope == 1.0 and intercept == int(intercept):
        if intercept == 0 and stored.dtype in (np.int16, np.uint8, np.int8):
            out[...] = stored
            return 0
        hu = stored.astype(np.int32)
        hu += int(intercept)
    else:
        hu = np.rint(stored.astype(np.float32) * np.float32(slope) + np.float32(intercept))
    clipped = int(np.count_nonzero((hu < _HU_MIN) | (hu > _HU_MAX)))
    if clipped:
        np.clip(hu, _HU_MIN, _HU_MAX, out=hu)
    out[...] = hu
    return clipped


#: At most this many warnings of one kind are listed; the rest are counted.
MAX_LISTED_WARNINGS = 5


def summarise(warnings: list[str], kind: str) -> list[str]:
    """The first few warnings of one kind and a count of the rest, never an unbounded list."""
    if len(warnings) <= MAX_LISTED_WARNINGS:
        return warnings
    rest = len(warnings) - MAX_LISTED_WARNINGS
    return [*warnings[:MAX_LISTED_WARNINGS], f"… and {rest} more {kind}"]


T = TypeVar("T")
R = TypeVar("R")


def run_parallel(
    items: Sequence[T],
    work: Callable[[T], R],
    stage: str,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
    threads: int | None = None,
) -> list[R | BaseException]:
    """Run ``work`` over items on a thread pool, in order; exceptions are returned, not raised.

    Progress is reported and cancel is polled on the calling thread, so callbacks never run on a
    worker. Cancelling stops queued items and raises :class:`Cancelled` within one item's time.
    ``threads=1`` runs inline: faster for pure-Python work such as tag parsing, which holds the GIL.
    """
    total = len(items)
    results: list[R | BaseException] = [None] * total  # type: ignore[list-item]  # every slot is filled before return
    if progress:
        progress(0, total, stage)
    if threads == 1:
        for index, item in enumerate(items):
            if should_cancel is not None and should_cancel():
                raise Cancelled(f"{stage}: cancelled by the user")
            try:
                results[index] = work(item)
            except Exception as error:  # returned to the caller, like the pooled path
                results[index] = error
            if progress and (index % 8 == 7 or index == total - 1):
                progress(index + 1, total, stage)
        return results
    with ThreadPoolExecutor(max_workers=threads or reader_threads()) as pool:
        futures: dict[Future[R], int] = {pool.submit(work, item): i for i, item in enumerate(items)}
        pending: Iterable[Future[R]] = set(futures)
        done_count = 0
        while pending:
            done, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
            for future in done:
                index = futures[future]
                failure = future.exception()
                results[index] = failure if failure is not None else future.result()
            done_count += len(done)
            if should_cancel is not None and should_cancel():
                for future in pending:
                    future.cancel()
                raise Cancelled(f"{stage}: cancelled by the user")
            if progress and done:
                progress(done_count, total, stage)
    return results


def read_headers(
    source: DicomSource,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    empty_label: str | None = None,
    strict: bool = False,
) -> tuple[list[SliceHeader], list[str]]:
    """Headers of every DICOM entry; non-DICOM skipped silently, corrupt ones with a warning.

    ``strict``: a corrupt file is the error (for masks, where every slice file is needed and a
    skipped one would only show up, misleadingly, as a slice-count mismatch).
    """
    entries = [e for e in source.entries() if not e.lower().endswith((".nii", ".nii.gz"))]
    label = empty_label or source.label
    if not entries:
        nifti = [e for e in source.entries() if e.lower().endswith((".nii", ".nii.gz"))]
        if nifti:
            raise NoDicomError(label, f"no DICOM files, and no NIfTI file named as the CT among {len(nifti)}")
        raise EmptyFolderError(label, "folder is empty: no files to read")
    # Tag parsing holds the GIL: threads only pay off where zip members must be inflated.
    threads = 1 if source.is_file_backed() else None
    results = run_parallel(
        entries, lambda e: read_header(source, e), "reading headers", progress, should_cancel, threads
    )
    headers: list[SliceHeader] = []
    corrupt: list[str] = []
    for result in results:
        if isinstance(result, UnreadableSlice):
            if strict:
                raise result
            corrupt.append(str(result))
        elif isinstance(result, BaseException):
            raise result
        elif result is not None:
            headers.extend(result)
    images = [h for h in headers if h.is_image]
    if not images:
        if corrupt:
            raise AllFilesCorruptError(label, f"all {len(corrupt)} DICOM files are unreadable; first: {corrupt[0]}")
        if headers:
            raise NoDicomError(label, f"{len(headers)} DICOM files but none is an image")
        raise NoDicomError(label, f"none of the {len(entries)} files is DICOM{_formats_hint(entries)}")
    warnings = summarise([f"skipped unreadable file {message}" for message in corrupt], "unreadable files skipped")
    warnings += summarise(list(getattr(source, "skipped", [])), "entries not read")
    return headers, warnings


#: Endings of volumes ctseg opens when given the file itself, not inside a DICOM folder.
VOLUME_ENDINGS = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")


def _formats_hint(entries: Sequence[str]) -> str:
    """What to do instead, for a folder that holds no DICOM: the formats ctseg reads, and the
    NRRD / MetaImage / NIfTI file among the entries to open directly."""
    volumes = [e for e in entries if str(e).lower().endswith(VOLUME_ENDINGS)]
    listed = f"; open the file itself ({os.path.basename(str(volumes[0]))})" if volumes else ""
    return (
        " (ctseg reads DICOM series, folders or zips of them, and NIfTI, NRRD or MetaImage "
        f"(.mha/.mhd) volumes{listed})"
    )
