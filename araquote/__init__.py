"""araquote: who said what in Arabic news."""

__version__ = "0.1.0"
