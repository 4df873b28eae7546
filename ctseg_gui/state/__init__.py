"""What the viewer shows, as QObjects that say when it changes: the viewer state (patient, slice,
window, masks, overlay settings, scores, crosshair) and the editor state (the label being corrected).
Widgets read them and follow their signals; they never talk to each other."""
