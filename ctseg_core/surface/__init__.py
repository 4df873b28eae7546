"""Surfaces in 3D: meshes of masks in patient space, their distance to a reference, and picking on them.

Analysis, not files: the 3D view, the mesh export and the surface-error colouring build on it; the
file writers live in :mod:`ctseg_core.export.mesh_files`.
"""
