"""Handing a client connection to another process (SCM_RIGHTS).

The sender connects to the receiver's unix socket, sends one RESP array (the
connection's state) with the socket's fd attached, and closes; the receiver
accepts, reads the array and the fd, and serves the connection from then
on. The sender then closes its own copy of the fd, which does not touch the
connection: the kernel keeps it while the other process holds it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Callable

import hiredis

from pikamp.resp import encode

log = logging.getLogger("pikamp.handover")

TIMEOUT = 2.0  # a local peer answers at once; this only bounds a stuck one


def send_connection(path: str, fd: int, fields: list[bytes]) -> None:
    """Send the connection ``fd`` and its state to the process listening on
    ``path``. Raises OSError if it cannot be delivered."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect(path)
        data = encode(fields, False)
        sent = socket.send_fds(s, [data], [fd])
        if sent < len(data):
            s.sendall(data[sent:])


def listen(loop: asyncio.AbstractEventLoop, path: str,
           receive: Callable[[socket.socket, list], None]) -> socket.socket:
    """Accept connections handed over on ``path``; ``receive(sock, fields)``
    gets each one (a non-blocking socket) with the state sent along."""
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    listener.setblocking(False)

    def on_accept() -> None:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        fds: list[int] = []
        try:
            with conn:
                conn.settimeout(TIMEOUT)
                reader = hiredis.Reader()
                fields = False
                while fields is False:
                    data, got, _, _ = socket.recv_fds(conn, 65536, 1)
                    fds += got
                    if not data:
                        break
                    reader.feed(data)
                    fields = reader.gets()
            if not fds or fields is False:
                raise ConnectionError("no connection came with the handover")
        except (OSError, hiredis.ProtocolError) as e:
            log.warning("a handed-over connection was lost: %s", e)
            for fd in fds:
                os.close(fd)
            return
        sock = socket.socket(fileno=fds[0])
        for fd in fds[1:]:
            os.close(fd)
        sock.setblocking(False)
        receive(sock, fields)

    loop.add_reader(listener.fileno(), on_accept)
    return listener
