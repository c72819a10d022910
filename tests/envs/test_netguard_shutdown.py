"""The network guard leaves no task behind (issue 21): 30 short episodes' worth of guarded contexts, each closed
while its page still has requests in flight, and asyncio never reports "Task was destroyed but it is pending"."""

from __future__ import annotations

import subprocess
import sys

from tests.model.server import ROOT

EPISODES = """
import gc, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from guiagent.envs.browser import BrowserEnv, SharedBrowser
from guiagent.envs.browser_config import BrowserConfig
from guiagent.tools.urlpolicy import UrlPolicy

PAGE = b'''<!doctype html><title>busy</title><body>busy<script>
for (let i = 0; i < 6; i++) fetch('/hang?' + i).catch(() => {});
</script></body>'''

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith('/hang'):  # answered only when the page is gone: requests in flight at close
            threading.Event().wait(30)
            return
        self.send_response(200); self.send_header('Content-Type', 'text/html')
        self.send_header('Content-Length', str(len(PAGE))); self.end_headers(); self.wfile.write(PAGE)
    def log_message(self, *a): pass

server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f'http://127.0.0.1:{server.server_address[1]}/'
shared = SharedBrowser()
config = BrowserConfig(url_policy=UrlPolicy(private_network=True), sample_fps=0)
for n in range(30):
    env = BrowserEnv(config, shared=shared)
    env.reset(url)
    env.close()
    gc.collect()
shared.close()
gc.collect()
print('done')
"""


def test_thirty_guarded_episodes_leave_no_pending_task() -> None:
    proc = subprocess.run([sys.executable, "-c", EPISODES], capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0 and "done" in proc.stdout, proc.stderr
    assert "Task was destroyed but it is pending" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
