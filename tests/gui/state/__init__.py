"""Tests of the viewer state."""
