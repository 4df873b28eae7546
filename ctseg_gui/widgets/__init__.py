"""Qt building blocks that panels, dialogs and commands share: readouts and controls, the model picker,
the edit actions (one QAction per editing command, shared by menus, toolbar and the Edit panel), the theme."""
