"""The 3D pane: surface meshes of the masks, built on workers, drawn with pyqtgraph's OpenGL items.

Whether OpenGL runs here is :mod:`~ctseg_gui.view3d.gl_probe`'s question, apart from the GL pieces
themselves (:mod:`~ctseg_gui.view3d.gl_items`), so a machine without GL never loads them.
"""
