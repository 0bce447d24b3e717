"""Every prompt template of the package, in one place and versioned."""

from __future__ import annotations
