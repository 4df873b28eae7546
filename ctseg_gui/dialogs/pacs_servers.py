"""The Archive servers dialog: add, change and remove the configured servers (``pacs.json``).

A DICOMweb server is a URL with its authentication (none, HTTP Basic, Bearer token), TLS verification
and timeout; a DIMSE server is ``AET@host:port`` with ctseg's own AE title. The file is written by
:func:`ctseg_core.pacs.servers.save_servers` (owner-only when it holds a password or token).
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ctseg_core.pacs.servers import AUTH_KINDS, ServerConfig, load_servers, parse_server, save_servers


class ServersDialog(QDialog):
    """One form for one server at a time; Save writes every server."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Archive servers")
        self.servers: dict[str, ServerConfig] = load_servers()
        self.choice = QComboBox()
        self.choice.addItems(["(new server)", *sorted(self.servers)])
        self.choice.currentTextChanged.connect(self._show)
        self.name, self.address, self.user = QLineEdit(), QLineEdit(), QLineEdit()
        self.address.setPlaceholderText("http://host:8042/dicom-web or AET@host:port")
        self.password, self.token = QLineEdit(), QLineEdit()
        for secret in (self.password, self.token):
            secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.auth = QComboBox()
        self.auth.addItems(list(AUTH_KINDS))
        self.verify = QCheckBox("Verify the TLS certificate")
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(1, 600)
        self.our_aet = QLineEdit("CTSEG")
        form = QFormLayout()
        for text, field in (
            ("Server", self.choice),
            ("Name", self.name),
            ("Address", self.address),
            ("Authentication", self.auth),
            ("User", self.user),
            ("Password", self.password),
            ("Bearer token", self.token),
            ("", self.verify),
            ("Timeout (s)", self.timeout),
            ("ctseg's AE title", self.our_aet),
        ):
            form.addRow(text, field)
        self.message = QLabel("")
        remove = QPushButton("Remove")
        remove.clicked.connect(self.remove)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(remove)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self._show(self.choice.currentText())

    def _show(self, name: str) -> None:
        server = self.servers.get(name, ServerConfig())
        self.name.setText(server.name)
        self.address.setText(server.url or (f"{server.aet}@{server.host}:{server.port}" if server.aet else ""))
        self.auth.setCurrentText(server.auth)
        self.user.setText(server.username)
        self.password.setText(server.password)
        self.token.setText(server.token)
        self.verify.setChecked(server.verify_tls)
        self.timeout.setValue(server.timeout_s)
        self.our_aet.setText(server.our_aet)

    def server(self) -> ServerConfig:
        """The form as a server; an error (naming what is wrong) when incomplete."""
        name = self.name.text().strip()
        if not name:
            raise ValueError("give the server a name")
        parsed = parse_server(self.address.text().strip(), servers={})
        return replace(
            parsed,
            name=name,
            auth=self.auth.currentText() if parsed.is_dicomweb else "none",
            username=self.user.text(),
            password=self.password.text(),
            token=self.token.text(),
            verify_tls=self.verify.isChecked(),
            timeout_s=self.timeout.value(),
            our_aet=self.our_aet.text().strip() or "CTSEG",
        ).check()

    def save(self) -> None:
        try:
            server = self.server()
            self.servers[server.name] = server
            path = save_servers(self.servers)
        except Exception as error:
            self.message.setText(f"Not saved: {error}")
            return
        self.message.setText(f"Saved to {path}")
        if self.choice.findText(server.name) < 0:
            self.choice.addItem(server.name)
        self.choice.setCurrentText(server.name)

    def remove(self) -> None:
        name = self.choice.currentText()
        if self.servers.pop(name, None) is not None:
            save_servers(self.servers)
            self.choice.removeItem(self.choice.currentIndex())
