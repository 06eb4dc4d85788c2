"""example_app under gunicorn, and a client that signs callbacks to it; they live in
:mod:`devtools.example_service`, shared with the soak and the screenshot."""

from devtools.example_service import (
    access_log_args,
    documented_gunicorn_command,
    documented_workers,
    send,
    send_body,
    serve_example,
    wait_for_workers,
    workers_seen,
)

__all__ = [
    "access_log_args",
    "documented_gunicorn_command",
    "documented_workers",
    "send",
    "send_body",
    "serve_example",
    "wait_for_workers",
    "workers_seen",
]
