"""Mouse and key profiles as data: ctseg's own, 3D Slicer's and ITK-SNAP's, one table each.

The plane views' pointer code looks gestures up here (:func:`drag_command`, :func:`wheel_command`),
the window's profile keys (:func:`key_bindings`) and the F1 help and ``docs/reference/keys.md``
(:func:`markdown_table`) read the same rows, so a binding has one home. Every row says where it
comes from:

* ``Slicer UI``: Slicer's documentation, *User Interface ▸ Mouse & Keyboard Shortcuts ▸ Slice views*
  and *Adjusting image window/level* (Slicer/Slicer ``Docs/user_guide/user_interface.md``);
* ``Slicer Segment Editor``: *Segment editor ▸ Keyboard shortcuts* and *Paint* / *Erase*
  (``Docs/user_guide/modules/segmenteditor.md``); effect 1 is Paint, 3 is Erase in its default order;
* ``ITK-SNAP``: ITK-SNAP's own mode help (the tool tips of Crosshair mode (1), Zoom/Pan mode (2) and
  Paintbrush mode (4), ``GUI/Qt/Windows/MainImageWindow.cxx``) and its slice view's mouse and key
  handling (``GUI/Qt/View/CrosshairsInteractionMode.cxx``: Ctrl+left acts as the right button,
  Alt+left as the middle one; arrows move the cursor in the slice, Page Up/Down change slice), and
  its paintbrush (``GUI/Qt/View/PaintbrushInteractionMode.cxx`` passes the right button as reverse
  mode to ``GUI/Model/PaintbrushModel.cxx``, whose ``ApplyBrush`` then clears the active label's
  voxels under the brush: the left button paints, the right one erases);
* ``ctseg``: ctseg's choice, where the tool has no such binding (said in the row).

With an editing tool (brush, eraser) the left button paints in every profile; a row marked for
painting (``paint_mode``) acts only while the brush or eraser is chosen, over that gesture's
ordinary row (ITK-SNAP's right button erases with the brush, and zooms otherwise).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

PROFILE_NAMES = ("ctseg", "Slicer", "ITK-SNAP")
DEFAULT_PROFILE = "ctseg"


class Command(enum.Enum):
    """What a gesture does; the value is how the help says it."""

    CROSSHAIR = "move the crosshair (the other planes follow)"
    PAN = "pan"
    ZOOM = "zoom in / out"
    WINDOW = "window/level: ← → width, ↑ ↓ level"
    SLICE = "next / previous slice"
    BRUSH_SIZE = "larger / smaller brush"
    NEXT_SLICE = "next slice"
    PREVIOUS_SLICE = "previous slice"
    RESET_VIEW = "reset zoom and pan (fit the slice)"
    CURSOR_LEFT = "crosshair one voxel left"
    CURSOR_RIGHT = "crosshair one voxel right"
    CURSOR_UP = "crosshair one voxel up"
    CURSOR_DOWN = "crosshair one voxel down"
    NEXT_SEGMENT = "next segment"
    PREVIOUS_SEGMENT = "previous segment"
    UNDO = "undo"
    REDO = "redo"
    SMALLER_BRUSH = "smaller brush"
    LARGER_BRUSH = "larger brush"
    TOOL_NAVIGATE = "navigate (no editing)"
    TOOL_BRUSH = "brush"
    TOOL_ERASER = "eraser"
    ERASE = "erase (with the brush or eraser chosen)"
    MENU = "(a menu item's key)"


@dataclass(frozen=True)
class Gesture:
    """A mouse drag, a wheel turn or a key, with its modifiers ("Shift", "Ctrl", "Alt").

    ``button`` is "left", "middle" or "right" for a drag; ``key`` a Qt key sequence text ("Left",
    "R", "PgUp"); ``window_mode`` True for a drag that acts only in window/level mode,
    ``paint_mode`` for one that acts only while painting (brush or eraser chosen).
    """

    kind: str  # "drag", "wheel" or "key"
    button: str = ""
    key: str = ""
    modifiers: frozenset[str] = frozenset()
    window_mode: bool = False
    paint_mode: bool = False

    def text(self) -> str:
        """How the help writes it: "Shift + left drag", "Ctrl + wheel", "R"."""
        what = {"drag": f"{self.button} drag", "wheel": "wheel"}.get(self.kind, self.key)
        words = [*sorted(self.modifiers), what]
        text = " + ".join(words)
        if self.paint_mode:
            return f"{text} (painting)"
        return f"{text} (window/level mode)" if self.window_mode else text


@dataclass(frozen=True)
class Binding:
    """One row of a profile: a gesture, what it does, and where the binding comes from."""

    gesture: Gesture
    command: Command
    source: str
    #: what the help adds (e.g. which menu item a key belongs to)
    note: str = ""


def _drag(
    button: str, command: Command, source: str, *mods: str, window_mode: bool = False, paint_mode: bool = False
) -> Binding:
    gesture = Gesture("drag", button=button, modifiers=frozenset(mods), window_mode=window_mode, paint_mode=paint_mode)
    return Binding(gesture, command, source)


def _wheel(command: Command, source: str, *mods: str, note: str = "") -> Binding:
    return Binding(Gesture("wheel", modifiers=frozenset(mods)), command, source, note)


def _key(key: str, command: Command, source: str, note: str = "") -> Binding:
    return Binding(Gesture("key", key=key), command, source, note)


_SLICER_UI = "Slicer UI"
_SLICER_SE = "Slicer Segment Editor"
_ITK = "ITK-SNAP"
_CTSEG = "ctseg"

_CTSEG_ROWS: tuple[Binding, ...] = (
    _drag("left", Command.CROSSHAIR, _CTSEG),
    _drag("left", Command.PAN, _CTSEG, "Shift"),
    _drag("middle", Command.PAN, _CTSEG),
    _drag("right", Command.WINDOW, _CTSEG),
    _wheel(Command.SLICE, _CTSEG),
    _wheel(Command.ZOOM, _CTSEG, "Ctrl", note="about the pointer"),
    _key("Up", Command.MENU, _CTSEG, "Navigate ▸ Next slice (↓ previous; PgUp PgDn ±10, Home End)"),
    _key("1", Command.MENU, _CTSEG, "View ▸ Window presets 1 – 5"),
    _key("F", Command.MENU, _CTSEG, "View ▸ Fit to window"),
    _key("[", Command.MENU, _CTSEG, "Edit ▸ Smaller brush (] larger)"),
    _key(",", Command.PREVIOUS_SEGMENT, _CTSEG + " (ITK-SNAP's label keys)"),
    _key(".", Command.NEXT_SEGMENT, _CTSEG + " (ITK-SNAP's label keys)"),
)

_SLICER_ROWS: tuple[Binding, ...] = (
    _drag("left", Command.CROSSHAIR, _CTSEG + " (Slicer moves the crosshair with Shift + mouse move)"),
    _drag("left", Command.WINDOW, _SLICER_UI, window_mode=True),
    _drag("left", Command.PAN, _SLICER_UI, "Shift"),
    _drag("middle", Command.PAN, _SLICER_UI),
    _drag("right", Command.ZOOM, _SLICER_UI),
    _wheel(Command.SLICE, _CTSEG + " (Slicer's slice views also scroll with the wheel)"),
    _wheel(Command.ZOOM, _SLICER_UI, "Ctrl"),
    _wheel(Command.BRUSH_SIZE, _SLICER_SE, "Shift"),
    _key("Left", Command.PREVIOUS_SLICE, _SLICER_UI),
    _key("Right", Command.NEXT_SLICE, _SLICER_UI),
    _key("R", Command.RESET_VIEW, _SLICER_UI),
    _key("Q", Command.PREVIOUS_SEGMENT, _SLICER_SE),
    _key("W", Command.NEXT_SEGMENT, _SLICER_SE),
    _key("Z", Command.UNDO, _SLICER_SE),
    _key("Y", Command.REDO, _SLICER_SE),
    _key("1", Command.TOOL_BRUSH, _SLICER_SE, "effect 1: Paint"),
    _key("3", Command.TOOL_ERASER, _SLICER_SE, "effect 3: Erase"),
    _key("-", Command.SMALLER_BRUSH, _SLICER_SE),
    _key("+", Command.LARGER_BRUSH, _SLICER_SE),
)

_ITK_ROWS: tuple[Binding, ...] = (
    _drag("left", Command.CROSSHAIR, _ITK),
    _drag("left", Command.WINDOW, _CTSEG + " (ITK-SNAP sets contrast in Tools ▸ Image Contrast)", window_mode=True),
    _drag("right", Command.ZOOM, _ITK),
    _drag("right", Command.ERASE, _ITK + " (Paintbrush mode: the right button erases)", paint_mode=True),
    _drag("left", Command.ZOOM, _ITK, "Ctrl"),
    _drag("middle", Command.PAN, _ITK),
    _drag("left", Command.PAN, _ITK, "Alt"),
    _wheel(Command.SLICE, _ITK),
    _wheel(Command.BRUSH_SIZE, _CTSEG + " (ITK-SNAP steps image components with it; a CT has one)", "Shift"),
    _key("PgUp", Command.NEXT_SLICE, _ITK),
    _key("PgDown", Command.PREVIOUS_SLICE, _ITK),
    _key("Left", Command.CURSOR_LEFT, _ITK),
    _key("Right", Command.CURSOR_RIGHT, _ITK),
    _key("Up", Command.CURSOR_UP, _ITK),
    _key("Down", Command.CURSOR_DOWN, _ITK),
    _key("R", Command.RESET_VIEW, _CTSEG),
    _key(",", Command.PREVIOUS_SEGMENT, _ITK, "ITK-SNAP's previous label"),
    _key(".", Command.NEXT_SEGMENT, _ITK, "ITK-SNAP's next label"),
    _key("1", Command.TOOL_NAVIGATE, _ITK, "Crosshair mode (1)"),
    _key("4", Command.TOOL_BRUSH, _ITK, "Paintbrush mode (4)"),
)

PROFILES: dict[str, tuple[Binding, ...]] = {"ctseg": _CTSEG_ROWS, "Slicer": _SLICER_ROWS, "ITK-SNAP": _ITK_ROWS}


def profile(name: str) -> tuple[Binding, ...]:
    """The rows of profile ``name`` (ctseg's for an unknown name, e.g. a stale preference)."""
    return PROFILES.get(name, PROFILES[DEFAULT_PROFILE])


def drag_command(
    name: str, button: str, modifiers: frozenset[str], window_mode: bool = False, painting: bool = False
) -> Command | None:
    """What a drag with ``button`` and ``modifiers`` does in profile ``name``; None: nothing.

    While ``painting`` (brush or eraser chosen) a row marked for painting wins, and in window/level
    mode a row marked for that mode, over the same gesture's ordinary row.
    """
    rows = [b for b in profile(name) if b.gesture.kind == "drag" and b.gesture.button == button]
    rows = [b for b in rows if b.gesture.modifiers == modifiers]
    painted = [b for b in rows if b.gesture.paint_mode]
    if painting and painted:
        return painted[0].command
    moded = [b for b in rows if b.gesture.window_mode]
    if window_mode and moded:
        return moded[0].command
    plain = [b for b in rows if not b.gesture.window_mode and not b.gesture.paint_mode]
    return plain[0].command if plain else None


def wheel_command(name: str, modifiers: frozenset[str]) -> Command | None:
    """What the wheel with ``modifiers`` does in profile ``name``; None: nothing."""
    rows = [b for b in profile(name) if b.gesture.kind == "wheel" and b.gesture.modifiers == modifiers]
    return rows[0].command if rows else None


def key_bindings(name: str) -> list[Binding]:
    """The keys profile ``name`` binds itself (a menu item's own key is not among them)."""
    return [b for b in profile(name) if b.gesture.kind == "key" and b.command is not Command.MENU]


def help_rows(name: str) -> list[tuple[str, str, str]]:
    """(gesture, what it does, where it comes from) for each row of profile ``name``."""
    rows = []
    for binding in profile(name):
        what = binding.note if binding.command is Command.MENU else binding.command.value
        if binding.note and binding.command is not Command.MENU:
            what = f"{what} ({binding.note})"
        rows.append((binding.gesture.text(), what, binding.source))
    return rows


def markdown_table(name: str) -> str:
    """Profile ``name`` as a Markdown table (the docs' keys page holds each profile's)."""
    lines = ["| Mouse or key | Does | From |", "|---|---|---|"]
    lines += [f"| {g} | {w} | {s} |" for g, w, s in help_rows(name)]
    return "\n".join(lines)
