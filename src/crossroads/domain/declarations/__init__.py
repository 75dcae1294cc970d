"""Employer declarations: DIMONA, the quarterly DmfA and social-risk declarations.

Pure domain code: the forms as parsed values, the business rules that run after the official
schema has accepted a form, and the anomalies they produce. Parsing the official XML, the
glossaries and the code lists is the adapters' work (`adapters/official_forms.py`,
`adapters/official_schema.py`, `adapters/form_reading.py`, `adapters/be_reference.py`).
"""
