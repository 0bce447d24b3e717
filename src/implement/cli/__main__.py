"""`python -m implement.cli`."""

from __future__ import annotations

from implement.cli import app

if __name__ == "__main__":
    app()
