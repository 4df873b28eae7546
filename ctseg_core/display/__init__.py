"""How a CT and its masks are shown, in one place for the viewer, the GIF, the HTML report and the editor.

- :mod:`~ctseg_core.display.planes`: the three viewing planes of the canonical volume, in screen order;
- :mod:`~ctseg_core.display.palette`: the one set of mask colours;
- :mod:`~ctseg_core.display.windowing`: Hounsfield windows and their presets.
"""
