"""Every annotator command as a QAction, with its keys: menus, the toolbar and the Edit panel's
buttons share them, so a key, a menu item and a button stay one command with one enabled and
checked state.

Keys (free in the viewer): N navigate, B brush, X or Shift+B eraser, L flood fill, H fill holes on
the slice of the view last used, I interpolate between annotated slices, [ and ] brush size, Ctrl+Z
undo, Ctrl+Shift+Z or Ctrl+Y redo, Ctrl+S save, Ctrl+Shift+S save as, Ctrl+L load. The tools edit in
every plane view (axial, coronal, sagittal) and undo is one history for all of them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QWidget

from ctseg_core.annotate.tools import Tool

TOOL_KEYS: dict[Tool, tuple[str, ...]] = {
    Tool.NAVIGATE: ("N",),
    Tool.BRUSH: ("B",),
    Tool.ERASER: ("X", "Shift+B"),
    Tool.FLOOD: ("L",),
}
TOOL_TIPS = {
    Tool.NAVIGATE: "Left drag pans; no editing",
    Tool.BRUSH: "Left drag paints a round brush ([ and ] change its size)",
    Tool.ERASER: "Left drag erases with the brush",
    Tool.FLOOD: "Click fills the connected region within the HU range, in the slice clicked (any plane)",
}


class EditActions:
    """The annotator's QActions, added to ``parent`` so that their keys work in the whole window."""

    def __init__(self, parent: QWidget) -> None:
        def action(text: str, keys: tuple[str, ...] = (), tip: str = "", checkable: bool = False) -> QAction:
            act = QAction(text, parent)
            act.setShortcuts([QKeySequence(key) for key in keys])
            shown_keys = " or ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            act.setToolTip(f"{tip or text} ({shown_keys})" if keys else (tip or text))
            act.setCheckable(checkable)
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            parent.addAction(act)  # keys work even when the action is in no visible menu
            return act

        self.tool_group = QActionGroup(parent)
        self.tools: dict[Tool, QAction] = {}
        for tool in Tool:
            act = action(tool.value, TOOL_KEYS[tool], TOOL_TIPS[tool], checkable=True)
            act.setData(tool)
            self.tool_group.addAction(act)
            self.tools[tool] = act
        self.undo = action("Undo", ("Ctrl+Z",))
        self.redo = action("Redo", ("Ctrl+Shift+Z", "Ctrl+Y"))
        self.fill_holes = action(
            "Fill holes", ("H",), "Fill holes enclosed by the label on the slice of the view last used"
        )
        self.interpolate = action(
            "Interpolate", ("I",), "Fill the empty slices between annotated slices (shape-based interpolation)"
        )
        self.remove_islands = action("Remove islands", (), "Delete 3D pieces smaller than the size beside")
        self.keep_largest = action("Keep largest", (), "Keep only the largest 3D piece of the label")
        self.smaller_brush = action("Smaller brush", ("[",))
        self.larger_brush = action("Larger brush", ("]",))
        self.new_empty = action("Empty", (), "Start an empty label")
        self.from_gt = action("Ground truth", (), "Start from a copy of the ground truth")
        self.accept_prediction = action("Accept prediction", (), "Start from the model's prediction")
        self.save = action("&Save label", ("Ctrl+S",), "Save the label (asks where the first time)")
        self.save_as = action("Save label &as…", ("Ctrl+Shift+S",), "Save the label as IRCAD, NIfTI or DICOM SEG")
        self.load_file = action("Load label from &file…", ("Ctrl+L",), "Load a NIfTI or DICOM SEG label")
        self.load_folder = action("Load label from IRCAD mask &folder…", (), "Load MASKS_DICOM/<name>")
