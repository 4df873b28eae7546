"""Tests of the work off the GUI thread: the worker runner and the Qt-free jobs."""
