"""A local Lambda Invoke-API endpoint: forwards each invocation to the emulator serving that function."""

from __future__ import annotations

import http.client
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from tests.s3servers import free_port


def start_router(targets: dict[str, int]) -> ThreadingHTTPServer:
    """One Invoke-API endpoint: ``/2015-03-31/functions/{name or ARN}/invocations`` -> that function's emulator."""

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            m = re.fullmatch(r"/2015-03-31/functions/([^/]+)/invocations", self.path.split("?")[0])
            port = targets.get(unquote(m[1])) if m else None
            if port is None:
                status, data = 404, json.dumps({"Type": "User", "message": "Function not found"}).encode()
                headers = {"x-amzn-ErrorType": "ResourceNotFoundException", "Content-Type": "application/json"}
            else:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                try:
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    conn.request("POST", self.path, body, forwarded)
                    r = conn.getresponse()
                    status, data = r.status, r.read()
                    headers = {k: v for k, v in r.getheaders() if k.lower() not in {"content-length", "connection"}}
                finally:
                    conn.close()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Forward)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
