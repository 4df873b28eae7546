"""Synthetic patients: phantoms written as real DICOM in the IRCAD layout, for the demo, tests and training."""
