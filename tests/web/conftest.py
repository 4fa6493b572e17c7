"""Fixtures for the web layer's tests: a real SMTP server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler


class _Inbox(MessageHandler):
    def __init__(self, server: SMTPServer) -> None:
        super().__init__(Message)
        self._server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self._server.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def handle_message(self, message: Message) -> None:
        with self._server.lock:
            self._server.messages.append(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SMTPServer:
    """An aiosmtpd server on 127.0.0.1 that keeps what it receives in ``messages``.

    Each received message has the envelope's recipients in its ``X-RcptTo`` header.
    Recipients in ``refuse`` are rejected with a permanent error (550). ``stop()`` takes
    the server down (connections are then refused); ``start()`` brings it back on the
    same port.
    """

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.messages: list[Message] = []
        self.refuse: set[str] = set()
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        assert self._controller is None
        self._controller = Controller(_Inbox(self), hostname=self.host, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SMTPServer]:
    """A running SMTP server, and the settings that send this test's mail to it."""
    server = SMTPServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield server
    finally:
        server.stop()
