#!/usr/bin/env python3
"""A static file server with HTTP validators and faults, for testing feed downloads.

    feed_server.py --port P --directory DIR --log FILE

GET /NAME serves DIR/NAME with `ETag: "<sha256>"` and `Last-Modified` (the file's mtime), and
answers 304 when `If-None-Match` matches the ETag (or, without it, when `If-Modified-Since` is
not older than the file). Faults, by path prefix:
  /truncated/NAME  headers for the whole file, then half its body, then the connection closes
  /error/NAME      500
  /stall/NAME      headers for the whole file, a few bytes of body, then silence (the connection stays open)
  /endless/NAME    no Content-Length: the file, then zeros until the client hangs up
  /redirect/NAME   302 to /NAME
  /auth/NAME       401 unless the request carries basic authentication for user "harden", password "s3cret"
It is also a proxy to itself: a request in absolute form (`GET http://host/NAME`) is served the
same way and logged with "proxied": true, and `CONNECT host:port` opens a tunnel to this server,
whatever host it names (so a name that resolves nowhere proves the request went through the proxy).
Every request is logged as one JSON line: method, path, if_none_match, if_modified_since, status.
Prints "listening on 127.0.0.1:P" once it accepts connections.
"""
import argparse
import base64
import email.utils
import hashlib
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        def log_request_line(self, status: int) -> None:
            entry = {"method": self.command, "path": self.path, "status": status,
                     "if_none_match": self.headers.get("If-None-Match"),
                     "if_modified_since": self.headers.get("If-Modified-Since"),
                     "proxied": self.proxied}
            with lock, open(args.log, "a") as out:
                out.write(json.dumps(entry) + "\n")

        def do_CONNECT(self) -> None:
            self.proxied = True
            self.log_request_line(200)
            upstream = socket.create_connection(("127.0.0.1", args.port))
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()

            def pump(source: socket.socket, target: socket.socket) -> None:
                try:
                    while data := source.recv(1 << 16):
                        target.sendall(data)
                except OSError:
                    pass
                for sock in (source, target):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

            back = threading.Thread(target=pump, args=(upstream, self.connection), daemon=True)
            back.start()
            pump(self.connection, upstream)
            back.join()
            self.close_connection = True

        def do_GET(self) -> None:
            path = self.path
            self.proxied = path.startswith("http://")
            if self.proxied:
                path = "/" + path.split("/", 3)[3]
            path = path.lstrip("/")
            mode = "normal"
            for prefix in ("truncated/", "error/", "stall/", "endless/", "redirect/", "auth/"):
                if path.startswith(prefix):
                    mode, path = prefix[:-1], path[len(prefix):]
            if mode == "redirect":
                self.log_request_line(302)
                self.send_response(302)
                self.send_header("Location", "/" + path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            expected = "Basic " + base64.b64encode(b"harden:s3cret").decode()
            if mode == "auth" and self.headers.get("Authorization") != expected:
                self.log_request_line(401)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="feeds"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            file = os.path.join(args.directory, os.path.basename(path))
            if mode == "error" or not os.path.isfile(file):
                status = 500 if mode == "error" else 404
                self.log_request_line(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = open(file, "rb").read()
            etag = '"%s"' % hashlib.sha256(body).hexdigest()
            mtime = int(os.stat(file).st_mtime)
            modified = email.utils.formatdate(mtime, usegmt=True)
            unchanged = False
            if self.headers.get("If-None-Match") is not None:
                unchanged = self.headers.get("If-None-Match") == etag
            elif self.headers.get("If-Modified-Since"):
                since = email.utils.parsedate_to_datetime(self.headers["If-Modified-Since"]).timestamp()
                unchanged = mtime <= since
            if unchanged and mode == "normal":
                self.log_request_line(304)
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.log_request_line(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if mode == "endless":
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    self.wfile.write(body)
                    zeros = bytes(1 << 16)
                    while True:
                        self.wfile.write(zeros)
                except OSError:
                    return
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", modified)
            self.end_headers()
            if mode == "truncated":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if mode == "stall":
                self.wfile.write(body[:3])
                self.wfile.flush()
                threading.Event().wait(120)
                self.close_connection = True
                return
            self.wfile.write(body)

    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
