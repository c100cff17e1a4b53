"""`python -m backpain_site`: the same as the `backpain-site` command."""

from .cli import run

run()
