"""The apps gunicorn serves in tests (``tests.served_apps:flask_app()``); they live in
:mod:`devtools.served_apps`."""

from devtools.served_apps import SDKAPPID, faulty_app, flask_app, friendcb, middleware_app

__all__ = ["SDKAPPID", "faulty_app", "flask_app", "friendcb", "middleware_app"]
