"""The desktop application (PySide6): a thin shell over :mod:`colorizer`'s public API."""
