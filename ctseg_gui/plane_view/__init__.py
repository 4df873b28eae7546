"""The 2D plane views (axial, coronal, sagittal) and the view area that lays them out with the 3D pane.

A plane view (:mod:`~ctseg_gui.plane_view.view`) draws one slice of its plane: the CT and the mask
overlays composited into one image (:mod:`~ctseg_gui.plane_view.image`, from the colour tables of
:mod:`~ctseg_gui.plane_view.overlay_tables`), its slices made ahead of time
(:mod:`~ctseg_gui.plane_view.slice_cache`, :mod:`~ctseg_gui.plane_view.sagittal_copies`), the pointer's
crosshair, edits and window drags (:mod:`~ctseg_gui.plane_view.pointer`), the items drawn
(:mod:`~ctseg_gui.plane_view.items`) and the text over the image (:mod:`~ctseg_gui.plane_view.overlay_text`).
"""
