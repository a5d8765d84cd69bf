"""The back office's billing analytics: figures computed in the database
(:mod:`.queries`), a forecast of occupancy (:mod:`.forecast`), charts (:mod:`.charts`) and the
report (:mod:`.report`: one HTML file and one CSV per table)."""

from __future__ import annotations

from kiosk.backoffice.analytics.queries import DEFINITIONS, Analytics, Period, Thresholds, compute

__all__ = ["DEFINITIONS", "Analytics", "Period", "Thresholds", "compute"]
