"""The package's public surface is a curated, sorted re-export."""

from __future__ import annotations

from types import ModuleType

import pyairtable_integration


def test_all_is_sorted_and_names_exactly_the_public_attributes() -> None:
    exported = pyairtable_integration.__all__
    assert exported == sorted(exported)
    # Subpackages (types, services...) become attributes once imported; they are namespaces
    # reached by their module path, not re-exports.
    public = {
        name
        for name, value in vars(pyairtable_integration).items()
        if (not name.startswith("_") or name == "__version__") and not isinstance(value, ModuleType)
    }
    assert set(exported) == public


def test_the_package_is_typed() -> None:
    from importlib.resources import files

    assert files("pyairtable_integration").joinpath("py.typed").is_file()
