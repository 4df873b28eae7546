"""The model in its own process: the viewer and the batch send it work, TensorFlow never loads beside Qt.

:class:`ModelProcess` spawns a child that loads the model and serves one request at a time;
:class:`RemoteSegmenter` has ``Segmenter.predict``'s signature and result. Volumes and masks cross
through shared memory (:mod:`~ctseg_core.engine.shared_array`), control messages through a pipe.
"""

from ctseg_core.engine.client import ModelProcess, ModelProcessDied, RemoteSegmenter
from ctseg_core.engine.shared_array import SharedArray

__all__ = ["ModelProcess", "ModelProcessDied", "RemoteSegmenter", "SharedArray"]
