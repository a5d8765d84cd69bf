"""The OCPI 2.2.1 CDRs module (a stub until the OCPI work lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
