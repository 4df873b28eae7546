"""``ctseg export``: a patient's mask as a surface mesh (STL/OBJ/PLY) and/or a slice movie (GIF/MP4)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ctseg_core.cli.terminal import progress_bar
from ctseg_core.errors import InvalidArgumentError
from ctseg_core.progress import ProgressCallback


def run(args: argparse.Namespace) -> int:
    from ctseg_core.io.loading import load_patient

    if not (args.mesh or args.gif):
        raise InvalidArgumentError(None, "nothing to export: give --mesh FILE and/or --gif FILE")
    with progress_bar(True) as progress:
        patient = load_patient(args.path, masks=None, progress=progress)
        mask = _export_mask(patient, args.mask, progress)
        if not mask.any():
            raise InvalidArgumentError(args.mask, "the mask is empty: nothing to export")
        if args.mesh:
            _write_mesh(args, patient, mask, progress)
        if args.gif:
            _write_movie(args, patient, mask, progress)
    return 0


def _export_mask(patient: Any, name: str, progress: ProgressCallback | None) -> Any:
    """A mask of the patient by name (ground truth or saved label), or a label file/folder path."""
    from ctseg_core.annotate.labels import load_label
    from ctseg_core.io.masks import load_mask

    if name in patient.available_masks:
        return load_mask(patient, name, progress=progress)
    if Path(name).exists():
        return load_label(name, patient, progress or (lambda done, total, stage: None), lambda: False).mask
    available = ", ".join(patient.available_masks) or "none"
    raise InvalidArgumentError(name, f"no such mask or label file; masks of this patient: {available}")


def _write_mesh(args: argparse.Namespace, patient: Any, mask: Any, progress: ProgressCallback | None) -> None:
    from ctseg_core.export.mesh_files import write_mesh
    from ctseg_core.surface.meshing import surface_mesh

    mesh = surface_mesh(mask, patient.geometry.affine_lps(), progress=progress)
    write_mesh(mesh, args.mesh, space=args.space)
    print(
        f"{args.mesh}: {mesh.triangle_count} triangles, {mesh.volume_ml():.1f} mL enclosed "
        f"({args.space} mm, watertight: {mesh.is_watertight()})"
    )


def _write_movie(args: argparse.Namespace, patient: Any, mask: Any, progress: ProgressCallback | None) -> None:
    from ctseg_core.display.windowing import PRESETS
    from ctseg_core.export.movie import write_slice_movie

    write_slice_movie(
        patient.hu,
        {args.mask: mask},
        args.gif,
        spacing_mm=patient.spacing_mm,
        window=PRESETS[args.window],
        progress=progress,
    )
    print(f"{args.gif}: {patient.shape[0]} frames, window {args.window}")
