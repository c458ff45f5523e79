"""The project's error types: what a user error is, and that every error the package defines is
one (the CLI turns exactly these into one line and exit code 2; see tests/cli/test_commands.py)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import aiayn
from aiayn.errors import AiaynError, DataNotFoundError


def test_a_missing_data_set_is_a_user_error():
    assert issubclass(DataNotFoundError, AiaynError)
    with pytest.raises(AiaynError, match="no copy of multi30k"):
        raise DataNotFoundError("no copy of multi30k")


def test_a_user_error_is_not_a_value_error():
    """Library code catching a bad argument value (ValueError) must not swallow a user error."""
    assert issubclass(AiaynError, Exception) and not issubclass(AiaynError, ValueError)


# Errors that never reach the command line, and why.
NOT_USER_ERRORS = {
    "aiayn.web.server.RequestError": "the local page answers it as an HTTP status",
}


def test_every_public_error_the_package_defines_is_an_aiayn_error():
    """(A private error, such as data.download's, is turned into a public one before it leaves
    its module.)"""
    defined = {}
    for info in pkgutil.walk_packages(aiayn.__path__, prefix="aiayn."):
        if info.name == "aiayn.__main__":
            continue  # running it is the command line
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            public = not name.startswith("_")
            if public and issubclass(obj, BaseException) and obj.__module__ == info.name:
                defined[f"{info.name}.{name}"] = obj
    assert "aiayn.errors.DataNotFoundError" in defined and len(defined) > 2
    others = {k for k, cls in defined.items() if not issubclass(cls, AiaynError)}
    assert sorted(others - set(NOT_USER_ERRORS)) == []
