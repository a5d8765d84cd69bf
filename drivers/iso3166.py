"""ISO 3166-1 numeric codes of the countries the kiosk is sold in (EMV 9F1A terminal country,
5F28 issuer country): the EEA, Switzerland, the United Kingdom and the United States."""

from __future__ import annotations

NUMERIC = {
    "AT": "040", "BE": "056", "BG": "100", "HR": "191", "CY": "196", "CZ": "203", "DK": "208",
    "EE": "233", "FI": "246", "FR": "250", "DE": "276", "GR": "300", "HU": "348", "IS": "352",
    "IE": "372", "IT": "380", "LV": "428", "LI": "438", "LT": "440", "LU": "442", "MT": "470",
    "NL": "528", "NO": "578", "PL": "616", "PT": "620", "RO": "642", "SK": "703", "SI": "705",
    "ES": "724", "SE": "752", "CH": "756", "GB": "826", "US": "840",
}
