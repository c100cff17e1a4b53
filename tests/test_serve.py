"""`backpain-site serve`: a real server in a subprocess, driven by HTTP, WebSocket and raw sockets.

One server runs for the module (starting one costs a build); the tests run in file order and
each leaves the project as it found it.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from tornado.websocket import websocket_connect

from backpain_site.cli import main
from backpain_site.preview import host_allowed, inject, is_loopback, locate

from conftest import STUDY, write_project

SERVE = (sys.executable, "-m", "backpain_site", "serve")
STUDY_PATH = "content/studies/smith-2020.md"
EDITED = STUDY.replace("Pain may have eased a little.", "Pain eased a little, edited just now.")
BROKEN = EDITED.replace("certainty: not-graded", "certanity: not-graded")
OVERLAY = "#backpain-site-errors li"


class Server:
    """`backpain-site serve --port 0` in a subprocess, with its output read as it comes."""

    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            [*SERVE, "--source", str(root), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.errors: list[str] = []
        threading.Thread(
            target=self._read, args=(self.proc.stdout, self.lines), daemon=True
        ).start()
        threading.Thread(target=self._collect_errors, daemon=True).start()
        started = self.wait_for(r"^serving (http://\S+)")
        self.url = started.split()[1]
        self.port = int(re.search(r":(\d+)/", self.url).group(1))  # type: ignore[union-attr]
        folder = self.wait_for(r"^  built into (\S+) \(temporary")
        self.out = Path(folder.split()[2])

    @staticmethod
    def _read(stream: object, into: queue.Queue[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.put(line.rstrip("\n"))

    def _collect_errors(self) -> None:
        for line in self.proc.stderr:  # type: ignore[union-attr]
            self.errors.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r}; saw {self.seen}; stderr {self.errors}"
                ) from None
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def drain(self) -> list[str]:
        """Lines printed since the last look."""
        new = []
        while True:
            try:
                new.append(self.lines.get_nowait())
            except queue.Empty:
                self.seen += new
                return new

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return response.status, dict(response.getheaders()), body

    def page(self, path: str) -> BeautifulSoup:
        status, _, body = self.get(path)
        assert status == 200, (path, status)
        return BeautifulSoup(body, "html.parser")

    def raw(self, target: str, host: str = "") -> tuple[int, bytes]:
        """Send a request line exactly as given (no client tidies the path) and read it all."""
        host = host or f"127.0.0.1:{self.port}"
        request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as conn:
            conn.sendall(request.encode())
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        status = int(data.split(b" ", 2)[1])
        return status, data

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=30)
        time.sleep(0.1)  # let the reader threads take the last lines
        self.drain()
        return code


def write(root: Path, relative: str, text: str) -> None:
    (root / relative).write_text(text, encoding="utf-8")


def until(check: Callable[[], bool], timeout: float) -> float:
    """Poll `check` until it holds; return how long that took (fails after `timeout`)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"still false after {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = write_project(tmp_path_factory.mktemp("serve") / "project")
    running = Server(root)
    yield running
    running.stop()


def test_serves_the_site_from_a_temporary_folder_with_livereload_in_responses_only(
    server: Server,
) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}/"
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] built \d+ pages in \d+\.\d\d s", server.seen[0])
    assert not server.out.is_relative_to(server.root)
    assert not (server.root / "_site").exists()
    served = server.page("/")
    scripts = [s["src"] for s in served.select("script[src]")]
    assert f"/livereload.js?port={server.port}" in scripts
    assert served.select(OVERLAY) == []
    on_disk = BeautifulSoup((server.out / "index.html").read_bytes(), "html.parser")
    assert [s for s in on_disk.select("script[src]") if "livereload" in str(s["src"])] == []
    assert "livereload" not in (server.out / "index.html").read_text(encoding="utf-8")
    # `backpain-site build` never has it either.
    built = server.root.parent / "built"
    assert main(["build", "--source", str(server.root), "--out", str(built)]) == 0
    pages = list(built.rglob("*.html"))
    assert pages and [p for p in pages if b"livereload" in p.read_bytes()] == []
    status, headers, body = server.get("/livereload.js")
    assert status == 200 and b"LiveReload" in body
    assert headers["Content-Type"].startswith("application/javascript")
    status, headers, _ = server.get("/studies")
    assert (status, headers["Location"]) == (301, "/studies/")
    status, headers, body = server.get("/no/such/page/")
    assert status == 404
    assert BeautifulSoup(body, "html.parser").select_one("h1").get_text() == "Page not found"


def test_requests_outside_the_output_folder_are_refused(server: Server, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET: never served\n", encoding="utf-8")
    (server.out / "leak.txt").symlink_to(secret)
    (server.out / "leak-folder").symlink_to(tmp_path, target_is_directory=True)
    up = "../" * 12
    secret_path = secret.as_posix().lstrip("/")
    targets = [
        f"/{up}etc/passwd",
        f"/{up}{secret_path}",
        "/studies/../../../../../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/" + "%2e%2e%2f" * 12 + "etc%2fpasswd",
        "/" + "%2E%2E%2F" * 12 + secret_path.replace("/", "%2F"),
        "/" + "..%2f" * 12 + "etc/passwd",
        "/" + "%252e%252e%252f" * 12 + "etc%252fpasswd",
        "/" + "%25252e%25252e%25252f" * 12 + "etc/passwd",
        "/..\\..\\..\\..\\..\\..\\..\\..\\etc\\passwd",
        "/" + "..%5c" * 12 + "etc%5cpasswd",
        "/" + "%5c..%5c..%5c..%5c..%5c..%5c..%5c..%5c..%5cetc%5cpasswd",
        "/etc/passwd",
        "//etc/passwd",
        f"/{secret.as_posix()}",
        f"//{secret_path}",
        "/C:/Windows/win.ini",
        "/C:%5CWindows%5Cwin.ini",
        f"http://127.0.0.1:{server.port}/../../../../../../../../etc/passwd",
        "/index.html%00.txt",
        "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
        "/leak.txt",
        f"/leak-folder/{secret.name}",
        "/leak-folder/",
    ]
    answers = {target: server.raw(target) for target in targets}
    leaked = [t for t, (_, body) in answers.items() if b"TOP SECRET" in body or b"root:" in body]
    assert leaked == []
    assert {t: status for t, (status, _) in answers.items() if status not in (400, 403, 404)} == {}
    # The same socket helper does get real pages.
    assert server.raw("/")[0] == 200
    assert server.raw("/static/site.css")[0] == 200
    assert server.raw("/", host=f"localhost:{server.port}")[0] == 200
    # A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) gets nothing.
    status, body = server.raw("/", host=f"attacker.example:{server.port}")
    assert status == 403 and b"Test site" not in body
    (server.out / "leak.txt").unlink()
    (server.out / "leak-folder").unlink()


def reload_message(port: int, action: Callable[[], None], timeout: float) -> dict[str, str]:
    """`_reload_message` on a thread of its own: the test session may already run an event loop
    on this one (Playwright's sync API does)."""
    found: list[dict[str, str]] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            found.append(asyncio.run(_reload_message(port, action, timeout)))
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout + 10)
    if failed:
        raise failed[0]
    return found[0]


async def _reload_message(port: int, action: Callable[[], None], timeout: float) -> dict[str, str]:
    """Connect as livereload.js does, do `action`, and return the next message."""
    connection = await websocket_connect(f"ws://127.0.0.1:{port}/livereload")
    hello = {"command": "hello", "protocols": ["http://livereload.com/protocols/official-7"]}
    await connection.write_message(json.dumps(hello))
    assert json.loads(await connection.read_message())["command"] == "hello"  # type: ignore[arg-type]
    await connection.write_message(json.dumps({"command": "info", "url": "/studies/smith-2020/"}))
    await asyncio.sleep(0.05)  # the server registers the page on 'info'
    action()
    message = await asyncio.wait_for(connection.read_message(), timeout)
    connection.close()
    return json.loads(message)  # type: ignore[arg-type]


def test_editing_a_study_changes_the_served_page_within_a_second(server: Server) -> None:
    server.drain()
    assert "Pain may have eased a little." in server.page("/studies/smith-2020/").get_text()
    saved: list[float] = []

    def save() -> None:
        write(server.root, STUDY_PATH, EDITED)
        saved.append(time.monotonic())

    message = reload_message(server.port, save, 5.0)
    # The reload message goes out after the new pages are in place: that is when the
    # editor's browser shows the change.
    reloaded = time.monotonic() - saved[0]
    assert (message["command"], message["path"]) == ("reload", "*")
    assert "edited just now" in server.page("/studies/smith-2020/").get_text()
    assert reloaded < 1.0, f"the page reloaded {reloaded:.2f} s after the save"
    # Pages first, then (once saving stops) the search index, which Pagefind makes slowly.
    until(lambda: (server.out / "pagefind" / "pagefind.js").is_file(), 10.0)
    line = server.wait_for(r"rebuilt", timeout=5)
    assert re.fullmatch(
        r"\[\d\d:\d\d:\d\d\] content/studies/smith-2020\.md changed: rebuilt \d+ pages in "
        r"\d+\.\d\d s; \d+ files differ: .*/studies/smith-2020/.*",
        line,
    ), line


def test_broken_front_matter_shows_the_overlay_and_a_fix_recovers_without_restart(
    server: Server,
) -> None:
    pid = server.proc.pid
    server.drain()
    write(server.root, STUDY_PATH, BROKEN)
    until(lambda: bool(server.page("/studies/smith-2020/").select(OVERLAY)), 2.0)
    expected = [
        "content/studies/smith-2020.md:2: missing required field 'certainty' in a study",
        "content/studies/smith-2020.md:13: unknown field 'certanity' in a study "
        "(did you mean 'certainty'?)",
    ]
    for path in ("/studies/smith-2020/", "/", "/references/", "/no-such-page/"):
        status, _, body = server.get(path)
        soup = BeautifulSoup(body, "html.parser")
        assert [li.get_text() for li in soup.select(OVERLAY)] == expected, path
        assert status == (404 if path == "/no-such-page/" else 200)
    # The last good page is still served under the overlay, and the folder kept it too.
    assert "edited just now" in server.page("/studies/smith-2020/").get_text()
    assert "backpain-site-errors" not in (server.out / "index.html").read_text(encoding="utf-8")
    assert server.wait_for(r"2 errors; still serving the last good pages").endswith(
        "content/studies/smith-2020.md changed: 2 errors; still serving the last good pages"
    )
    assert server.wait_for(r"^  content/") == f"  {expected[0]}"
    write(server.root, STUDY_PATH, STUDY)
    until(lambda: not server.page("/studies/smith-2020/").select(OVERLAY), 2.0)
    assert "Pain may have eased a little." in server.page("/studies/smith-2020/").get_text()
    assert server.wait_for(r"rebuilt").endswith("; the errors are fixed")
    assert server.proc.poll() is None and server.proc.pid == pid


def test_saves_at_once_give_one_rebuild_and_unchanged_bytes_give_none(server: Server) -> None:
    server.drain()
    page = (server.root / "content/pages/disclaimer.md").read_text(encoding="utf-8")
    claim = (server.root / "content/claims/cures.md").read_text(encoding="utf-8")
    write(server.root, "content/pages/disclaimer.md", page.replace("Talk to a doctor.", "Ask."))
    write(server.root, "content/claims/cures.md", claim.replace("small effect", "tiny effect"))
    write(server.root, STUDY_PATH, EDITED)
    line = server.wait_for(r"changed: rebuilt", timeout=5)
    assert line[len("[00:00:00] ") :].startswith(
        "content/claims/cures.md, content/pages/disclaimer.md, content/studies/smith-2020.md "
        "changed: rebuilt "
    )
    assert re.search(r"; \d+ files differ: /claims/, ", line), line
    time.sleep(0.6)  # several polls: a second rebuild would have printed by now
    assert server.drain() == []
    # Rewriting the same bytes (and touching a file) changes no input's fingerprint.
    write(server.root, STUDY_PATH, EDITED)
    later = time.time() + 5
    os.utime(server.root / "content/references.bib", (later, later))
    time.sleep(0.6)
    assert server.drain() == []
    for relative, text in (
        ("content/pages/disclaimer.md", page),
        ("content/claims/cures.md", claim),
        (STUDY_PATH, STUDY),
    ):
        write(server.root, relative, text)
    server.wait_for(r"changed: rebuilt", timeout=5)


def test_a_css_change_reloads_only_the_stylesheet(server: Server) -> None:
    css = (server.root / "static/site.css").read_text(encoding="utf-8")
    message = reload_message(
        server.port, lambda: write(server.root, "static/site.css", css + "\n/* edited */\n"), 5.0
    )
    assert (message["command"], message["path"]) == ("reload", "/static/site.css")
    server.wait_for(r"static/site\.css changed: rebuilt")
    write(server.root, "static/site.css", css)
    server.wait_for(r"static/site\.css changed: rebuilt")


def test_a_network_host_warns_and_stopping_removes_the_folder(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project")
    running = Server(root, "--host", "0.0.0.0")
    try:
        assert running.url == f"http://127.0.0.1:{running.port}/"
        assert running.page("/").select_one("h1") is not None
    finally:
        code = running.stop()
    assert code == 0
    assert running.seen[-1] == "stopped"
    assert (
        "backpain-site: warning: --host 0.0.0.0 makes the preview reachable from the network: "
        "anyone who can reach this computer can read the site, drafts included. "
        "Use --host 127.0.0.1 to keep it on this computer."
    ) in running.errors, running.errors
    assert not running.out.exists() and not running.out.parent.exists()


def test_with_drafts_a_draft_is_served_with_a_banner(tmp_path: Path) -> None:
    draft = STUDY.replace("status: published", "status: published\ndraft: true")
    root = write_project(tmp_path / "project", {"content/studies/draft-one.md": draft})
    running = Server(root, "--drafts")
    try:
        assert running.seen[1] == f"serving {running.url} (drafts shown)"
        banner = running.page("/studies/draft-one/").select_one("#backpain-site-draft")
        assert banner is not None and banner.get_text().startswith("Draft.")
        assert running.page("/studies/smith-2020/").select_one("#backpain-site-draft") is None
    finally:
        running.stop()


def test_busy_port_is_a_usage_error(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*SERVE, "--source", str(root), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr.startswith(f"backpain-site: error: cannot listen on 127.0.0.1:{port}: ")


# Unit tests of the pieces, without a server.


@pytest.fixture
def out(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "studies" / "a").mkdir(parents=True)
    (site / "index.html").write_text("home", encoding="utf-8")
    (site / "studies" / "a" / "index.html").write_text("a", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("outside", encoding="utf-8")
    (site / "inside-link.html").symlink_to(site / "index.html")
    (site / "out-link").symlink_to(tmp_path / "outside.txt")
    (site / "out-folder").symlink_to(tmp_path, target_is_directory=True)
    return site


@pytest.mark.parametrize(
    ("raw", "status", "file"),
    [
        ("/", 200, "index.html"),
        ("/studies/a/", 200, "studies/a/index.html"),
        ("/studies/%61/", 200, "studies/a/index.html"),
        ("/inside-link.html", 200, "index.html"),
        ("/studies/a", 301, None),
        ("/studies/b/", 404, None),
        ("/../outside.txt", 403, None),
        ("/studies/../index.html", 403, None),
        ("/%2e%2e/outside.txt", 403, None),
        ("/%2e%2e%2foutside.txt", 403, None),
        ("/%252e%252e%252foutside.txt", 403, None),
        ("/..%5coutside.txt", 403, None),
        ("/\\..\\outside.txt", 403, None),
        ("//outside.txt", 403, None),
        ("/studies//a/", 403, None),
        ("/c:/outside.txt", 403, None),
        ("/out-link", 403, None),
        ("/out-folder/outside.txt", 403, None),
        ("/out-folder/", 403, None),
        ("/index.html%00", 403, None),
        ("/%ff", 400, None),
        ("index.html", 400, None),
    ],
)
def test_locate(out: Path, raw: str, status: int, file: str | None) -> None:
    located = locate(out, "", raw)
    assert located.status == status
    assert located.file == ((out / file).resolve() if file else None)


def test_locate_under_a_base_url_path(out: Path) -> None:
    assert locate(out, "/sub", "/sub/studies/a/").file == (out / "studies/a/index.html").resolve()
    assert locate(out, "/sub", "/sub").location == "/sub/"
    assert locate(out, "/sub", "/sub/studies/a").location == "/sub/studies/a/"
    assert locate(out, "/sub", "/studies/a/").status == 404
    assert locate(out, "/sub", "/sub/../index.html").status == 403


def test_inject_puts_the_script_in_head_and_the_overlay_first_in_body() -> None:
    page = b'<html><head><title>t</title></head>\n<body class="x"><main>m</main></body></html>'
    assert inject(page, "<script></script>", "<div>o</div>") == (
        b'<html><head><title>t</title><script></script></head>\n<body class="x">\n'
        b"<div>o</div><main>m</main></body></html>"
    )
    assert inject(b"no tags", "<s>", "<d>") == b"<s>no tags\n<d>"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("header", "loopback_only", "allowed"),
    [
        ("127.0.0.1:8000", True, True),
        ("localhost:8000", True, True),
        ("LOCALHOST", True, True),
        ("[::1]:8000", True, True),
        ("[::1]", True, True),
        ("attacker.example:8000", True, False),
        ("127.0.0.1.attacker.example", True, False),
        ("", True, False),
        ("attacker.example", False, True),
    ],
)
def test_host_allowed(header: str, loopback_only: bool, allowed: bool) -> None:
    assert host_allowed(header, loopback_only) is allowed
