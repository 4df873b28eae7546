"""Work off the GUI thread: the worker runner, the status bar's job display, and the viewer's long jobs
(opening a patient, segmenting) as plain Qt-free functions of ``(progress, should_cancel)``."""
