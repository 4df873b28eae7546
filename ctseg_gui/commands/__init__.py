"""The window's commands: the controllers that open patients, segment, edit, save and load labels,
autosave, export and improve the model, and the menus that offer them with their keys.

Each controller reaches the window through one protocol, :class:`~ctseg_gui.commands.host.WindowHost`
(status line, error reports, job progress, and the state, editor and runner they share), never
through ``MainWindow`` itself. Long work runs on workers (:mod:`ctseg_gui.jobs`).
"""
