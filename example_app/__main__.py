"""``python -m example_app``: serve the service on EXAMPLE_HOST:EXAMPLE_PORT (127.0.0.1:5000)
with Werkzeug's development server, and show how to call it. Deploy with gunicorn (README)."""

from __future__ import annotations

import ipaddress
import json
import logging
import shlex
import socket
import sys
import time

from werkzeug.serving import make_server

from flask_friendcb import ConfigError
from flask_friendcb.blueprint import callback_paths, get_state
from flask_friendcb.logging import mask_sign_in_logs
from flask_friendcb.testing import callback_query, friend_response_body, response_item

from . import create_app, get_service


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    mask_sign_in_logs()  # the development server logs each request line, Sign included
    try:
        app = create_app()
    except ConfigError as error:
        print(f"example_app: {error}", file=sys.stderr)
        return 2
    settings = get_state(app).settings
    example = get_service(app).settings
    try:
        # Bound before anything is printed: on a busy port or an address this machine does
        # not have, no URL or curl line is shown that would reach nothing (or another server).
        # Bound here rather than by Werkzeug, which prints its own lines and exits; it
        # listens once the lines are printed, so whoever finds the port open finds them too.
        listening = bind(example.host, example.port)
    except OSError as error:
        reason = error.strerror or str(error)
        print(
            f"example_app: cannot listen on {example.host}:{example.port}: {reason} "
            "(set EXAMPLE_HOST or EXAMPLE_PORT)",
            file=sys.stderr,
        )
        return 1
    with listening:
        server = make_server(example.host, example.port, app, threaded=True, fd=listening.fileno())
    host, everywhere = reachable_host(example.host)
    base = f"http://{host}:{example.port}"
    if everywhere:
        print(
            f"Listening on all interfaces ({example.host}, port {example.port}); "
            f"from other machines use this machine's address instead of {host}"
        )
    url = f"{base}{callback_paths(app)[0]}"
    query = callback_query(
        settings.sdkappid,
        token=settings.tokens[0] if settings.tokens else None,
        request_time=int(time.time()),
    )
    body = friend_response_body(
        "mallory",
        [
            response_item("spammer1", remark="cheap followers at www.example.com"),
            response_item("alice", "Response_Action_Agree"),
        ],
    )
    password = " (HTTP Basic: any user name, EXAMPLE_PASSWORD)" if example.password else ""
    print(f"Operator page: {base}/{password}")
    print(f"Callback URL: {url}")
    print(
        "Send a callback as Tencent would (from another terminal, with the same FRIENDCB_* "
        "variables: the command signs with its own):"
    )
    print(
        f"  .venv/bin/flask --app example_app friendcb send --url {url} "
        "--from mallory --to spammer1 --remark 'visit www.example.com'"
    )
    print("Or with curl (the Sign is valid for the next minute):")
    print(
        "curl -s -X POST -H 'Content-Type: application/json' "
        f"{shlex.quote(url + '?' + query)} -d {shlex.quote(json.dumps(body))}",
        flush=True,
    )
    server.socket.listen(server.request_queue_size)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port``, not yet listening; OSError when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # As any server does: a port left in TIME_WAIT by the last run is free to take.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def reachable_host(host: str) -> tuple[str, bool]:
    """The host to print in a URL for a server bound to ``host``, and whether that server
    listens on every interface: 0.0.0.0 and :: are no address a client can use."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host, False  # a name, such as localhost
    if address.is_unspecified:
        return ("127.0.0.1" if address.version == 4 else "[::1]"), True
    return (f"[{address}]" if address.version == 6 else str(address)), False


if __name__ == "__main__":
    sys.exit(main())
