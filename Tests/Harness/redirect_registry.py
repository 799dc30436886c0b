#!/usr/bin/env python3
"""A registry front that sends blob downloads elsewhere, as registries backed by object storage do.

    redirect_registry.py --port P --storage-port S --user NAME:PASSWORD --log FILE

On 127.0.0.1:P it asks for Basic credentials (401 with `WWW-Authenticate: Basic`) and, once given,
answers `GET /v2/` with 200 and `GET /v2/<name>/blobs/<digest>` with 307 to
http://127.0.0.1:S/blob/<digest> — another origin (another port). On 127.0.0.1:S ("storage")
it serves the bytes of the file `--blob` under any digest. Every request to either port is logged as
one JSON line with the port and whether an Authorization header came with it. Both ports print
"listening on 127.0.0.1:PORT" once they accept connections.
"""
import argparse
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--storage-port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--blob", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    expected = "Basic " + base64.b64encode(args.user.encode()).decode()
    blob = open(args.blob, "rb").read()
    lock = threading.Lock()

    def log(port: int, handler: BaseHTTPRequestHandler, status: int) -> None:
        entry = {"port": port, "method": handler.command, "path": handler.path, "status": status,
                 "authorization": handler.headers.get("Authorization") is not None}
        with lock, open(args.log, "a") as out:
            out.write(json.dumps(entry) + "\n")

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        def answer(self, status: int, headers: dict, body: bytes = b"") -> None:
            log(args.port, self, status)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.answer(401, {"WWW-Authenticate": 'Basic realm="redirect-test"', "Content-Type": "application/json"},
                            b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
            elif self.path == "/v2/":
                self.answer(200, {"Content-Type": "application/json"}, b"{}")
            elif "/blobs/" in self.path:
                digest = self.path.rsplit("/", 1)[-1]
                self.answer(307, {"Location": f"http://127.0.0.1:{args.storage_port}/blob/{digest}"})
            else:
                self.answer(404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"NAME_UNKNOWN","message":"unknown"}]}')

        do_HEAD = do_GET

    class Storage(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        def do_GET(self) -> None:
            log(args.storage_port, self, 200)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(blob)))
            self.end_headers()
            self.wfile.write(blob)

    servers = [ThreadingHTTPServer(("127.0.0.1", args.port), Front), ThreadingHTTPServer(("127.0.0.1", args.storage_port), Storage)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening on 127.0.0.1:{args.storage_port}", flush=True)
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
