#!/usr/bin/env python3
"""An HTTP/1.1 loopback proxy for tests that injects faults and logs every request (stdlib only).

    fault_proxy.py --listen-port P --upstream HOST:PORT --rules FILE --log FILE

Clients talk plain HTTP/1.1 (keep-alive) to 127.0.0.1:P. Each request head is parsed and matched
against the rules; the first matching rule that is not spent decides:

    [{"method": "PATCH",                   # optional, any method when missing or null
      "pathContains": "/blobs/uploads/",   # optional substring of the request target (path + query)
      "skip": 0,                           # matching requests let through first
      "times": 1,                          # matching requests acted on after that; then the rule is spent
      "action": {"kind": "status", "status": 503, "retryAfter": 1}}]
                {"kind": "dropAfterBodyBytes", "bytes": 1024}
                {"kind": "dropResponse"}

    status              the body is read and discarded, then the proxy answers the status itself
                        (Retry-After when given) with {"errors":[{"code":"UNAVAILABLE","message":"injected"}]}
    dropAfterBodyBytes  the head and the first N body bytes (payload bytes for chunked bodies) go upstream,
                        the upstream side is half-closed and given up to 5 s to react (so the registry has
                        processed what it got), then both connections are closed without an answer
    dropResponse        the whole request goes upstream and the whole response is read, then the client
                        connection is closed without relaying it

A request that matches a rule while the rule is still skipping is forwarded (later rules are not tried).
Anything else is forwarded on a fresh upstream connection with the head unchanged (Host included), the
body streamed in both directions, and the response relayed as it arrives (1xx interim responses too).
The client connection stays open unless the request or the response said `Connection: close`, the
response was delimited by the upstream closing, or the upstream answered before the whole request
body was read.

The rules file is re-read whenever its inode, size or mtime changes; the per-rule counters restart
then. One JSON line per request is appended to the log FILE, written before the last byte of the
answer reaches the client (so a client that has its answer finds the line):
    {"method", "target", "status" (null when dropped), "bodyBytes", "action", "upstreamStatus"?, "error"?}
Prints "listening on 127.0.0.1:P" to stderr once the socket is bound; exits when its parent goes away.
"""

import argparse
import asyncio
import http
import json
import os
import sys

HEAD_LIMIT = 1 << 20
CHUNK = 64 * 1024
SETTLE_SECONDS = 5.0


class ClientGone(Exception):
    """The client closed its connection or sent a malformed body."""


class BadRequest(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Rules


class Rule:
    def __init__(self, raw: dict):
        self.method = raw.get("method")
        self.path_contains = raw.get("pathContains")
        self.skip = int(raw.get("skip") or 0)
        self.times = int(raw.get("times") if raw.get("times") is not None else 1)
        action = raw["action"]
        self.kind = action["kind"]
        if self.kind == "status":
            self.status = int(action["status"])
            self.retry_after = action.get("retryAfter")
        elif self.kind == "dropAfterBodyBytes":
            self.bytes = int(action["bytes"])
        elif self.kind != "dropResponse":
            raise ValueError(f"unknown action kind {self.kind!r}")
        self.seen = 0

    def matches(self, method: str, target: str) -> bool:
        if self.seen >= self.skip + self.times:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path_contains is not None and self.path_contains not in target:
            return False
        return True


class Rules:
    def __init__(self, path: str):
        self.path = path
        self.signature = ()
        self.rules = []

    def _current(self):
        try:
            st = os.stat(self.path)
            signature = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        except FileNotFoundError:
            signature = None
        if signature != self.signature:
            self.signature = signature
            self.rules = []
            if signature is not None:
                try:
                    with open(self.path, "rb") as f:
                        data = f.read()
                    self.rules = [Rule(raw) for raw in json.loads(data or b"[]")]
                except Exception as error:  # a broken rules file means no rules, and says so
                    print(f"fault_proxy: cannot read rules {self.path}: {error}", file=sys.stderr, flush=True)
        return self.rules

    def decide(self, method: str, target: str):
        """The rule that acts on this request, or None to forward it."""
        for rule in self._current():
            if rule.matches(method, target):
                rule.seen += 1
                return rule if rule.seen > rule.skip else None
        return None


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 heads and bodies


def parse_headers(lines):
    headers = []
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name.strip() or name != name.strip():
            raise BadRequest(f"malformed header line {line[:80]!r}")
        headers.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
    return headers


def header_values(headers, name):
    return [value for key, value in headers if key == name]


def connection_tokens(headers):
    tokens = set()
    for value in header_values(headers, "connection"):
        tokens.update(token.strip().lower() for token in value.split(","))
    return tokens


def body_framing(headers):
    """("chunked", None), ("length", N) or ("length", 0)."""
    encodings = header_values(headers, "transfer-encoding")
    if encodings:
        codings = [c.strip().lower() for value in encodings for c in value.split(",") if c.strip()]
        if codings and codings[-1] == "chunked":
            return ("chunked", None)
        return ("close", None)
    lengths = {value.strip() for value in header_values(headers, "content-length")}
    if len(lengths) > 1:
        raise BadRequest("conflicting Content-Length")
    if lengths:
        value = lengths.pop()
        if not value.isdigit():
            raise BadRequest("bad Content-Length")
        return ("length", int(value))
    return None


def without_header(head: bytes, name: bytes) -> bytes:
    lines = head[:-4].split(b"\r\n")
    kept = [lines[0]] + [line for line in lines[1:] if line.partition(b":")[0].strip().lower() != name]
    return b"\r\n".join(kept) + b"\r\n\r\n"


def with_connection_close(head: bytes) -> bytes:
    return without_header(head, b"connection")[:-2] + b"Connection: close\r\n\r\n"


class Request:
    def __init__(self, raw: bytes):
        self.raw = raw
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            raise BadRequest(f"malformed request line {lines[0][:80]!r}")
        self.method = parts[0].decode("latin-1")
        self.target = parts[1].decode("latin-1")
        self.version = parts[2].decode("latin-1")
        self.headers = parse_headers(lines[1:])
        framing = body_framing(self.headers)
        if framing is None:
            framing = ("length", 0)
        if framing[0] == "close":
            raise BadRequest("request body without chunked framing or Content-Length")
        self.framing = framing
        tokens = connection_tokens(self.headers)
        self.close = "close" in tokens or (self.version == "HTTP/1.0" and "keep-alive" not in tokens)
        self.expects_continue = any(v.lower() == "100-continue" for v in header_values(self.headers, "expect"))

    @property
    def has_body(self) -> bool:
        return self.framing[0] == "chunked" or self.framing[1] > 0


class Response:
    def __init__(self, raw: bytes, request_method: str):
        self.raw = raw
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise BadRequest(f"malformed status line {lines[0][:80]!r}")
        self.status = int(parts[1])
        self.headers = parse_headers(lines[1:])
        if request_method == "HEAD" or 100 <= self.status < 200 or self.status in (204, 304):
            self.framing = ("length", 0)
        else:
            self.framing = body_framing(self.headers) or ("close", None)
        self.close = "close" in connection_tokens(self.headers) or self.framing[0] == "close"


class Body:
    """Reads one message body from `reader` as raw wire pieces (chunk framing included), counting payload."""

    def __init__(self, reader: asyncio.StreamReader, framing, gone=ClientGone):
        self.reader = reader
        self.kind, length = framing
        self.remaining = length if self.kind == "length" else 0  # bytes left in the current chunk
        self.state = "data" if self.kind == "length" else "size"
        self.done = self.kind == "length" and length == 0
        self.payload = 0
        self.gone = gone

    async def read(self, limit: int = CHUNK) -> bytes:
        """The next piece (at most `limit` payload bytes), or b"" at the end."""
        if self.done:
            return b""
        try:
            return await self._read(limit)
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            raise self.gone(str(error) or type(error).__name__)
        except (asyncio.LimitOverrunError, ValueError) as error:
            raise self.gone(f"malformed body: {error}")

    async def _read(self, limit: int) -> bytes:
        reader = self.reader
        if self.kind == "close":
            data = await reader.read(min(CHUNK, limit))
            if not data:
                self.done = True
            self.payload += len(data)
            return data
        if self.kind == "length":
            data = await reader.read(min(CHUNK, limit, self.remaining))
            if not data:
                raise asyncio.IncompleteReadError(b"", self.remaining)
            self.remaining -= len(data)
            self.payload += len(data)
            self.done = self.remaining == 0
            return data
        if self.state == "size":
            line = await reader.readuntil(b"\r\n")
            size = int(line[:-2].split(b";")[0].strip(), 16)
            if size == 0:
                trailer = line
                while True:
                    part = await reader.readuntil(b"\r\n")
                    trailer += part
                    if part == b"\r\n":
                        break
                self.done = True
                return trailer
            self.remaining, self.state = size, "data"
            return line
        if self.state == "data":
            data = await reader.read(min(CHUNK, limit, self.remaining))
            if not data:
                raise asyncio.IncompleteReadError(b"", self.remaining)
            self.remaining -= len(data)
            self.payload += len(data)
            if self.remaining == 0:
                self.state = "crlf"
            return data
        crlf = await reader.readexactly(2)
        if crlf != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        self.state = "size"
        return crlf

    async def drain(self) -> None:
        while await self.read():
            pass


class UpstreamGone(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The proxy


def status_phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "Injected"


class Proxy:
    def __init__(self, upstream: str, rules_path: str, log_path: str):
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.rules = Rules(rules_path)
        self.log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def log(self, request: Request, status, body_bytes: int, action: str, **extra) -> None:
        entry = {"method": request.method, "target": request.target, "status": status,
                 "bodyBytes": body_bytes, "action": action}
        entry.update({k: v for k, v in extra.items() if v is not None})
        os.write(self.log_fd, (json.dumps(entry) + "\n").encode())

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                except asyncio.LimitOverrunError:
                    await self.bad_request(writer, "request head too large")
                    break
                raw = raw.lstrip(b"\r\n")
                if not raw:
                    continue
                try:
                    request = Request(raw)
                except BadRequest as error:
                    await self.bad_request(writer, str(error))
                    break
                rule = self.rules.decide(request.method, request.target)
                if rule is None:
                    keep = await self.forward(request, reader, writer, relay=True)
                elif rule.kind == "status":
                    keep = await self.answer_status(request, reader, writer, rule)
                elif rule.kind == "dropAfterBodyBytes":
                    keep = await self.drop_after_body_bytes(request, reader, writer, rule.bytes)
                else:
                    keep = await self.forward(request, reader, writer, relay=False)
                if not keep:
                    break
        except Exception as error:  # never let one connection take the proxy down
            print(f"fault_proxy: connection error: {error!r}", file=sys.stderr, flush=True)
        finally:
            await close_writer(writer)

    async def bad_request(self, writer, message: str) -> None:
        body = json.dumps({"errors": [{"code": "BAD_REQUEST", "message": message}]}).encode()
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        try:
            await writer.drain()
        except ConnectionError:
            pass

    async def answer_status(self, request: Request, reader, writer, rule: Rule) -> bool:
        body = Body(reader, request.framing)
        if request.expects_continue and request.has_body:
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            await body.drain()
        except ClientGone as error:
            self.log(request, None, body.payload, "status", error=f"client: {error}")
            return False
        payload = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected"}]}).encode()
        head = [f"HTTP/1.1 {rule.status} {status_phrase(rule.status)}",
                "Content-Type: application/json; charset=utf-8",
                "Docker-Distribution-Api-Version: registry/2.0",
                f"Content-Length: {len(payload)}"]
        if rule.retry_after is not None:
            head.append(f"Retry-After: {int(rule.retry_after)}")
        if request.close:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode()
        if request.method != "HEAD":
            data += payload
        self.log(request, rule.status, body.payload, "status")
        writer.write(data)
        try:
            await writer.drain()
        except ConnectionError:
            return False
        return not request.close

    async def connect_upstream(self):
        return await asyncio.open_connection(self.upstream[0], self.upstream[1], limit=HEAD_LIMIT)

    async def drop_after_body_bytes(self, request: Request, reader, writer, limit: int) -> bool:
        body = Body(reader, request.framing)
        try:
            up_reader, up_writer = await self.connect_upstream()
        except OSError as error:
            self.log(request, None, 0, "dropAfterBodyBytes", error=f"upstream: {error}")
            return False
        error_text = None
        try:
            head = request.raw
            if request.expects_continue:
                # The upstream would answer 100 Continue only to us; answer it ourselves.
                head = without_header(head, b"expect")
                if request.has_body and limit > 0:
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            up_writer.write(head)
            await up_writer.drain()
            while body.payload < limit and not body.done:
                piece = await body.read(limit - body.payload)
                if not piece:
                    break
                up_writer.write(piece)
                await up_writer.drain()
            # Let the upstream see the end of its input and finish with it before the client learns anything.
            if up_writer.can_write_eof():
                up_writer.write_eof()
            try:
                await asyncio.wait_for(read_until_eof(up_reader), SETTLE_SECONDS)
            except asyncio.TimeoutError:
                pass
        except ClientGone as error:
            error_text = f"client: {error}"
        except (ConnectionError, OSError) as error:
            error_text = f"upstream: {error}"
        finally:
            await close_writer(up_writer)
        self.log(request, None, body.payload, "dropAfterBodyBytes", error=error_text)
        return False

    async def forward(self, request: Request, reader, writer, relay: bool) -> bool:
        """Forwards one request; relays the response when `relay`, else reads it and drops the client."""
        action = "forward" if relay else "dropResponse"
        body = Body(reader, request.framing)
        try:
            up_reader, up_writer = await self.connect_upstream()
        except OSError as error:
            if relay:
                payload = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": f"upstream: {error}"}]}).encode()
                self.log(request, 502, 0, action, error=f"upstream: {error}")
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
                try:
                    await writer.drain()
                except ConnectionError:
                    pass
            else:
                self.log(request, None, 0, action, error=f"upstream: {error}")
            return False

        async def pump():
            try:
                up_writer.write(request.raw)
                await up_writer.drain()
                while True:
                    piece = await body.read()
                    if not piece:
                        return
                    up_writer.write(piece)
                    await up_writer.drain()
            except (ConnectionError, OSError) as error:
                # The upstream stopped reading (it may have answered early): stop sending.
                raise UpstreamGone(str(error) or type(error).__name__)

        pump_task = asyncio.create_task(pump())
        try:
            return await self._relay(request, body, pump_task, up_reader, writer, relay, action)
        finally:
            if not pump_task.done():
                pump_task.cancel()
            try:
                await pump_task
            except BaseException:
                pass
            await close_writer(up_writer)

    async def _relay(self, request, body, pump_task, up_reader, writer, relay, action) -> bool:
        # Wait for the final response head, relaying 1xx interim responses; give up if the client goes.
        while True:
            head_task = asyncio.create_task(up_reader.readuntil(b"\r\n\r\n"))
            while True:
                waiting = {head_task} if pump_task.done() else {head_task, pump_task}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if head_task in done:
                    break
                error = pump_task.exception()
                if isinstance(error, ClientGone):
                    head_task.cancel()
                    self.log(request, None, body.payload, action, error=f"client: {error}")
                    return False
            try:
                raw = head_task.result()
                response = Response(raw, request.method)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, BadRequest) as error:
                self.log(request, None, body.payload, action,
                         error=f"upstream closed without an answer: {error or type(error).__name__}")
                return False
            if 100 <= response.status < 200 and response.status != 101:
                writer.write(raw)
                try:
                    await writer.drain()
                except ConnectionError:
                    self.log(request, None, body.payload, action, error="client gone")
                    return False
                continue
            break

        # The client connection stays usable only if its whole request body has been read.
        body_complete = body.done
        keep = relay and body_complete and not request.close and not response.close
        out_head = raw if keep or response.close else with_connection_close(raw)
        upstream_body = Body(up_reader, response.framing, gone=UpstreamGone)
        try:
            if not relay:
                await upstream_body.drain()
                self.log(request, None, body.payload, action, upstreamStatus=response.status)
                return False
            if upstream_body.done:
                self.log(request, response.status, body.payload, action)
                writer.write(out_head)
                await writer.drain()
                return keep
            writer.write(out_head)
            while True:
                piece = await upstream_body.read()
                if upstream_body.done:
                    # Log before the last bytes: a client that has the whole answer finds the line.
                    self.log(request, response.status, body.payload, action)
                    if piece:
                        writer.write(piece)
                    await writer.drain()
                    return keep
                writer.write(piece)
                await writer.drain()
        except UpstreamGone as error:
            self.log(request, None, body.payload, action, upstreamStatus=response.status,
                     error=f"upstream closed mid-response: {error}")
            return False
        except ConnectionError as error:
            self.log(request, response.status, body.payload, action, error=f"client gone: {error}")
            return False


async def read_until_eof(reader: asyncio.StreamReader) -> None:
    while await reader.read(CHUNK):
        pass


async def close_writer(writer: asyncio.StreamWriter) -> None:
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:
        pass


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="HOST:PORT")
    parser.add_argument("--rules", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    proxy = Proxy(args.upstream, args.rules, args.log)
    try:
        server = await asyncio.start_server(proxy.handle, "127.0.0.1", args.listen_port, limit=HEAD_LIMIT)
    except OSError as error:
        print(f"cannot listen on 127.0.0.1:{args.listen_port}: {error}", file=sys.stderr, flush=True)
        sys.exit(98)
    print(f"listening on 127.0.0.1:{args.listen_port}", file=sys.stderr, flush=True)
    asyncio.create_task(watch_parent())
    async with server:
        await server.serve_forever()


async def watch_parent() -> None:
    """Exit when the process that started us dies (we are reparented), so no proxy outlives a test run."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
