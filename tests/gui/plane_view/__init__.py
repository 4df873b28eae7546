"""Tests of the plane views: overlay tables and the composite, slices made ahead, linked planes, editing
in every plane."""
