"""The package's version, in a module of its own so that the modules that print it (the
OpenAPI document) need not import the package, which imports them."""

__version__ = "0.1.0"
