"""ctseg desktop viewer (PySide6 + pyqtgraph): a thin view over ctseg_core."""
