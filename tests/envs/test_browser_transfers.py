"""Files between a page and the disk, on real Chromium: a page's file chooser takes files only from the
folder the user names (``--upload-dir``), else the model's choice is refused as the action's result;
downloads land only in the episode's folder, under a safe, new name."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from guiagent.envs.browser import BrowserConfig, BrowserEnv
from guiagent.envs.transfers import download_target, safe_name
from guiagent.tools import parse_action


def act(env, **action):
    return env.execute(parse_action(action))


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("transfers")
    uploads = root / "uploads"
    uploads.mkdir()
    (uploads / "report.txt").write_text("the report\n")
    (uploads / "notes.md").write_text("# notes\n")
    (uploads / "inner").mkdir()
    (root / "secret.txt").write_text("not for the page\n")
    (uploads / "link.txt").symlink_to(root / "secret.txt")  # inside by name, outside in fact
    return {"root": root, "uploads": uploads}


@pytest.fixture(scope="module")
def chromium(folders):
    env = BrowserEnv(BrowserConfig(upload_dir=str(folders["uploads"]), downloads_dir=str(folders["root"] / "episode" / "downloads")))
    env.reset()
    yield env
    env.close()


def chosen(env) -> list[dict]:
    return env.page.evaluate("window.chosen")


def test_a_file_from_the_upload_folder_reaches_the_page(chromium, pages_url):
    chromium.reset(pages_url + "/upload.html")
    opened = act(chromium, action="left_click", coordinate=[100, 60])
    assert opened.ok and "a file chooser opened: type the name of a file in the upload folder" in opened.message
    assert "(there: link.txt, notes.md, report.txt)" in opened.message
    result = act(chromium, action="type", text="report.txt")
    assert result.ok and "chose report.txt (11 bytes) from the upload folder" in result.message, result.message
    assert chosen(chromium) == [{"input": "one", "name": "report.txt", "type": "text/plain", "text": "the report\n"}]
    assert result.data["uploads"] == [{"name": "report.txt", "bytes": 11}]


@pytest.mark.parametrize("name, why", [
    ("../secret.txt", "is outside the upload folder"),
    ("link.txt", "is outside the upload folder"),  # a link out of it is followed first
    ("{root}/secret.txt", "is outside the upload folder"),
    ("/etc/passwd", "is outside the upload folder"),
    ("missing.txt", "there is no file 'missing.txt' in the upload folder"),
    ("inner", "is not a file in the upload folder"),
    ("report.txt\nnotes.md", "this file chooser takes one file, not 2"),
])
def test_a_file_outside_the_upload_folder_is_refused_as_the_actions_result(chromium, pages_url, folders, name, why):
    chromium.reset(pages_url + "/upload.html")
    assert act(chromium, action="left_click", coordinate=[100, 60]).ok
    refused = act(chromium, action="type", text=name.format(root=folders["root"]))
    assert not refused.ok and why in refused.message and "nothing was chosen" in refused.message, refused.message
    assert chosen(chromium) == []
    # the chooser stays open for another name, until another action closes it
    assert act(chromium, action="type", text="notes.md").ok
    assert [c["name"] for c in chosen(chromium)] == ["notes.md"]


def test_several_files_where_the_chooser_takes_several(chromium, pages_url):
    chromium.reset(pages_url + "/upload.html")
    assert act(chromium, action="left_click", coordinate=[100, 140]).ok
    assert act(chromium, action="type", text="report.txt\nnotes.md").ok
    assert [(c["input"], c["name"]) for c in chosen(chromium)] == [("many", "report.txt"), ("many", "notes.md")]


def test_another_action_closes_the_chooser_and_typing_goes_to_the_page(chromium, pages_url):
    chromium.reset(pages_url + "/upload.html")
    assert act(chromium, action="left_click", coordinate=[100, 60]).ok
    assert act(chromium, action="left_click", coordinate=[200, 220]).ok  # the text field
    assert act(chromium, action="type", text="report.txt").ok
    assert chosen(chromium) == [] and chromium.page.evaluate("document.getElementById('note').value") == "report.txt"


def test_without_an_upload_folder_nothing_is_chosen(pages_url, tmp_path):
    env = BrowserEnv(BrowserConfig(downloads_dir=str(tmp_path / "downloads")))
    try:
        env.reset(pages_url + "/upload.html")
        opened = act(env, action="left_click", coordinate=[100, 60])
        assert opened.ok and "uploads are off" in opened.message
        refused = act(env, action="type", text="/etc/hostname")
        assert not refused.ok and refused.message.startswith("uploads are off: ") and "--upload-dir" in refused.message
        assert chosen(env) == []
    finally:
        env.close()


class _Attachments(BaseHTTPRequestHandler):
    """Serves a download link page and attachments named as a hostile site would name them."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/":
            body = (b"<!doctype html><title>Files</title><style>a{position:absolute;left:20px;display:block;width:200px;"
                    b"height:30px}</style><a id=a style='top:20px' href='/f/a'>a</a><a id=b style='top:80px' href='/f/b'>b</a>"
                    b"<a id=c style='top:140px' href='/f/c'>c</a>")
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
        else:
            names = {"/f/a": "../../escaped.txt", "/f/b": "..", "/f/c": ".bashrc"}
            body = b"downloaded\n"
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Disposition", f'attachment; filename="{names[self.path]}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def attachments():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Attachments)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_downloads_land_only_in_the_episodes_folder(chromium, folders, attachments):
    downloads = folders["root"] / "episode" / "downloads"
    chromium.reset(attachments)
    saved = []
    for y in (35, 95, 155, 35):
        result = act(chromium, action="left_click", coordinate=[60, y])
        assert result.ok, result.message
        (download,) = result.data["downloads"]
        saved.append(Path(download["path"]))
    assert all(p.parent == downloads and p.read_text() == "downloaded\n" for p in saved), saved
    assert len(set(saved)) == 4  # the same name twice: kept apart, never over the first
    assert sorted(p.name for p in (folders["root"]).iterdir()) == ["episode", "secret.txt", "uploads"]  # nothing escaped


def test_without_a_downloads_folder_a_download_is_not_kept(attachments, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where a download without a folder used to land (./downloads)
    env = BrowserEnv(BrowserConfig())
    try:
        env.reset(attachments)
        result = act(env, action="left_click", coordinate=[60, 35])
        (download,) = result.data["downloads"]
        assert "path" not in download and download["error"].startswith("not kept: downloads are kept only in an episode's folder")
        assert "was not kept" in result.message
    finally:
        env.close()
    assert list(tmp_path.iterdir()) == []


def test_a_download_name_is_one_plain_new_file(tmp_path):
    assert [safe_name(n) for n in ("../../x.txt", "..", "", "a\\b.txt", ".bashrc", "a\x00b", "x" * 300)] == [
        "x.txt", "download", "download", "b.txt", "bashrc", "a_b", "x" * 200]
    (tmp_path / "x.txt").write_text("")
    (tmp_path / "x (1).txt").symlink_to("/etc/hostname")  # never written through
    assert download_target(str(tmp_path), "x.txt").name == "x (2).txt"
