"""Exports for people and other programs: mesh files, slice movies, overlay images and HTML reports.

The meshes themselves (and their distances, picking) are built in :mod:`ctseg_core.surface`. The
modules import their heavier dependencies (matplotlib, Pillow) only where they are used, so
importing ``ctseg_core.export`` stays cheap and never loads Qt.
"""
