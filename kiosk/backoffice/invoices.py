"""The invoice pages (a stub until the invoice-pages work lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
