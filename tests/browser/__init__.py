"""Browser-proved quality of the real site.

A package, so that its conftest.py does not take the module name `conftest` from tests/conftest.py.
"""
