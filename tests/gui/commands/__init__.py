"""Tests of the window's commands: editing, label files, volume tools, exports, Segment and its preload,
Model ▸ Improve."""
