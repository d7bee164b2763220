"""The test browser sends a GET again when a kept-alive connection was reset before any answer
(as browsers do), and never a POST."""

from __future__ import annotations

import socket
import struct
import threading

import pytest
import requests

from tests.support.browser import Browser


class ResetOnce:
    """A loopback server that resets its first connection after reading the request (what
    a server closing an idle kept-alive connection does), then answers every other one."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.requests.append(conn.recv(65536).split(b" ", 1)[0])
                if len(self.requests) == 1:
                    # linger 0: close sends RST, as a close with unread data does
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way
        self.listener.close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    live = ResetOnce()
    yield live
    live.close()


def test_a_get_reset_before_any_answer_is_sent_again(server):
    browser = Browser(timeout=5)
    page = browser.get(server.url)
    browser.close()
    assert page.status == 200
    assert server.requests == [b"GET", b"GET"]


def test_a_post_reset_before_any_answer_is_not_sent_again(server):
    browser = Browser(timeout=5)
    with pytest.raises(requests.ConnectionError):
        browser.request("POST", server.url, data={"a": "b"})
    browser.close()
    assert server.requests == [b"POST"]
