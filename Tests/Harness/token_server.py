#!/usr/bin/env python3
"""A small Docker/OCI token-auth server for tests (the `auth: token` flow of distribution).

    token_server.py init DIR
        Creates DIR/key.pem (EC P-256) and DIR/cert.pem (self-signed, CA:true). The registry's
        `auth.token.rootcertbundle` is DIR/cert.pem.

    token_server.py serve DIR --port P --user NAME:PASSWORD --ttl SECONDS
                    --issuer ISSUER --service SERVICE --log FILE [--registry-leeway SECONDS]
        Serves on 127.0.0.1:P
          GET  /token?service=...&scope=...            Basic credentials in Authorization (optional)
          POST /token  grant_type=password&username=...&password=...&service=...&scope=...
                       grant_type=refresh_token&refresh_token=...   (access_type=offline issues one)
        Wrong credentials answer 401; no credentials give a token with empty access (anonymous);
        the configured user gets every action it asks for. Tokens are ES256 JWTs whose header
        carries the certificate in `x5c` (and the libtrust key ID in `kid`).
        `exp` is now + ttl rounded up to a whole second. distribution accepts a token until `exp` + 60 s
        (its clock-skew leeway); with --registry-leeway 60 the `exp` claim is 60 s earlier, so the
        registry stops accepting the token between ttl and ttl + 1 seconds after it was issued
        (`expires_in` is always ttl).
        Exits when its parent process goes away.
        One JSON line per request is appended to FILE: {"path", "method", "status", "issued", ...}.
        Prints "listening on 127.0.0.1:P" to stderr once the socket is bound.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import math
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def libtrust_key_id(public_key) -> str:
    """libtrust's key ID: base32 of the first 240 bits of SHA-256(DER SubjectPublicKeyInfo), 12 groups of 4."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.sha256(der).digest()[:30]
    encoded = base64.b32encode(digest).decode("ascii").rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, 48, 4))


def init(directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "harden-test-token-signer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path = os.path.join(directory, "key.pem")
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(os.path.join(directory, "cert.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def parse_scope(scope: str):
    """`repository:NAME:ACTIONS` (NAME may hold ':' for a registry host with a port) -> dict, or None."""
    first = scope.find(":")
    last = scope.rfind(":")
    if first <= 0 or last == first:
        return None
    actions = [a for a in scope[last + 1:].split(",") if a]
    return {"type": scope[:first], "name": scope[first + 1:last], "actions": actions}


class Issuer:
    def __init__(self, directory, user, password, ttl, issuer, service, log_path, leeway=0):
        with open(os.path.join(directory, "key.pem"), "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(os.path.join(directory, "cert.pem"), "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
        self.kid = libtrust_key_id(cert.public_key())
        self.user, self.password = user, password
        self.ttl, self.issuer, self.service = ttl, issuer, service
        self.leeway = leeway
        self.lock = threading.Lock()
        self.log_file = open(log_path, "a", buffering=1)
        self.refresh_tokens = {}

    def log(self, entry: dict) -> None:
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self.lock:
            self.log_file.write(line)
            self.log_file.flush()

    def check(self, user, password) -> bool:
        return hmac.compare_digest(user.encode(), self.user.encode()) and \
            hmac.compare_digest(password.encode(), self.password.encode())

    def make_token(self, subject: str, scopes, granted: bool):
        clock = time.time()
        now = int(clock)
        # Rounded up, so a token lives at least ttl seconds (the registry compares whole seconds).
        expires = math.ceil(clock + self.ttl)
        access = []
        if granted:
            for scope in scopes:
                parsed = parse_scope(scope)
                if parsed is not None:
                    access.append(parsed)
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self.x5c], "kid": self.kid}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": expires - self.leeway,
            "nbf": now - 5,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
            b64url(json.dumps(claims, separators=(",", ":")).encode())
        der = self.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        token = signing_input + "." + b64url(signature)
        issued_at = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return token, access, issued_at


def split_scopes(values):
    """Scopes may repeat as parameters and each may hold several, space-separated (OAuth2 style)."""
    out = []
    for value in values:
        out.extend(part for part in value.split(" ") if part)
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "harden-token-server"
    issuer: Issuer = None  # set on the class by main()

    def log_message(self, format, *args):  # keep stderr for startup and errors only
        pass

    def send_json(self, status: int, body: dict, extra_headers=None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def answer(self, entry: dict, status: int, body: dict, extra_headers=None) -> None:
        # Log first: whoever reads the log after the response has arrived sees this request.
        entry["status"] = status
        entry.setdefault("issued", False)
        self.issuer.log(entry)
        self.send_json(status, body, extra_headers)

    def unauthorized(self, entry: dict, message: str = "invalid credentials") -> None:
        self.answer(entry, 401, {"errors": [{"code": "UNAUTHORIZED", "message": message}]},
                    {"WWW-Authenticate": 'Basic realm="harden-token-server"'})

    def issue(self, entry: dict, subject: str, scopes, granted: bool, offline: bool = False) -> None:
        issuer = self.issuer
        token, access, issued_at = issuer.make_token(subject, scopes, granted)
        body = {"token": token, "access_token": token, "expires_in": issuer.ttl, "issued_at": issued_at}
        if offline and granted:
            refresh = secrets.token_urlsafe(24)
            with issuer.lock:
                issuer.refresh_tokens[refresh] = subject
            body["refresh_token"] = refresh
        entry.update({"issued": True, "subject": subject, "access": access})
        self.answer(entry, 200, body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        scopes = split_scopes(query.get("scope", []))
        entry = {"path": self.path, "method": "GET", "service": query.get("service", [""])[0], "scopes": scopes}
        if url.path != "/token":
            self.answer(entry, 404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]})
            return
        authorization = self.headers.get("Authorization")
        if authorization is None:
            self.issue(entry, "", scopes, granted=False)
            return
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            self.unauthorized(entry)
            return
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except Exception:
            self.unauthorized(entry)
            return
        if not self.issuer.check(user, password):
            self.unauthorized(entry)
            return
        offline = query.get("offline_token", ["false"])[0].lower() == "true"
        self.issue(entry, user, scopes, granted=True, offline=offline)

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        scopes = split_scopes(form.get("scope", []))
        grant = form.get("grant_type", [""])[0]
        entry = {"path": self.path, "method": "POST", "service": form.get("service", [""])[0],
                 "scopes": scopes, "grant_type": grant}
        if url.path != "/token":
            self.answer(entry, 404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]})
            return
        offline = form.get("access_type", [""])[0] == "offline"
        if grant == "password":
            user = form.get("username", [""])[0]
            password = form.get("password", [""])[0]
            if not self.issuer.check(user, password):
                self.unauthorized(entry)
                return
            self.issue(entry, user, scopes, granted=True, offline=offline)
        elif grant == "refresh_token":
            with self.issuer.lock:
                subject = self.issuer.refresh_tokens.get(form.get("refresh_token", [""])[0])
            if subject is None:
                self.unauthorized(entry, "invalid refresh token")
                return
            self.issue(entry, subject, scopes, granted=True, offline=offline)
        else:
            self.answer(entry, 400, {"errors": [{"code": "UNSUPPORTED", "message": "unsupported grant_type"}]})


def watch_parent() -> None:
    """Exit when the process that started us dies (we are reparented), so no server outlives a test run."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def serve(args) -> None:
    user, sep, password = args.user.partition(":")
    if not sep:
        sys.exit("--user must be NAME:PASSWORD")
    Handler.issuer = Issuer(args.directory, user, password, args.ttl, args.issuer, args.service, args.log,
                            args.registry_leeway)
    ThreadingHTTPServer.allow_reuse_address = False
    try:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    except OSError as error:
        print(f"cannot listen on 127.0.0.1:{args.port}: {error}", file=sys.stderr, flush=True)
        sys.exit(98)
    server.daemon_threads = True
    watch_parent()
    print(f"listening on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p_init = commands.add_parser("init")
    p_init.add_argument("directory")
    p_serve = commands.add_parser("serve")
    p_serve.add_argument("directory")
    p_serve.add_argument("--port", type=int, required=True)
    p_serve.add_argument("--user", required=True, help="NAME:PASSWORD")
    p_serve.add_argument("--ttl", type=int, default=300)
    p_serve.add_argument("--issuer", default="harden-test-issuer")
    p_serve.add_argument("--service", default="harden-registry")
    p_serve.add_argument("--log", required=True)
    p_serve.add_argument("--registry-leeway", type=int, default=0,
                         help="subtract this from exp (distribution 2.8 adds 60 s of leeway)")
    args = parser.parse_args()
    if args.command == "init":
        init(args.directory)
    else:
        serve(args)


if __name__ == "__main__":
    main()
