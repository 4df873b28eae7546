"""ctseg core: CT loading with real geometry, HU windowing, metrics, phantoms, model and trainer.

This package never imports Qt, so scripts, notebooks, the trainer and batch jobs can use it headless.
"""

__version__ = "0.1.0"
