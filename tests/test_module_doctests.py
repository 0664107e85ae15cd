"""The examples in module docstrings run, so they cannot drift from the code."""

import doctest
import importlib

import pytest

MODULES = ["errors", "model", "merge_patch", "files", "state", "metrics", "matching", "config", "app",
           "testing", "traceparent", "graph"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(f"pymock.{name}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
