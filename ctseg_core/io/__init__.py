"""Getting CT and masks in and out: DICOM (folders, zips, Enhanced CT), NIfTI, DICOM SEG, IRCAD mask folders.

Everything here returns or takes volumes in the canonical orientation of :mod:`ctseg_core.orientation`;
readers bring the source to it and writers map back exactly onto the source geometry.
"""
