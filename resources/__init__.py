"""Data files shipped with ctseg (the bundled model and its card), installed as the package ``ctseg_resources``.

The folder stays ``resources/`` at the top of the repository; ``pyproject.toml`` maps it into the
wheel, and code finds the files with :mod:`importlib.resources`, so an installed ctseg works
outside the checkout.
"""
