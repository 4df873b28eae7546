"""Exports for people and other programs: surface meshes, slice movies and HTML reports.

The modules import their heavier dependencies (matplotlib, Pillow, fast-simplification) only
where they are used, so importing ``ctseg_core.export`` stays cheap and never loads Qt.
"""
