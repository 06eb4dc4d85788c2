"""Helpers the test suite, the benchmarks and the scripts share: the test app's identity and
signing, real servers on loopback, the apps they serve, example_app under gunicorn, and
Chromium.

Not shipped in the wheel (``setup.cfg`` packages ``flask_friendcb`` only). ``tests/`` imports
from here, and so do ``bench/`` and ``scripts/``, which never import ``tests/``.
"""
