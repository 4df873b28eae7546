"""Editing a label without Qt: brush, flood fill and volume tools, bounded undo history, live Dice,
crash-recovery autosave, and label saving/loading in every format."""
