-- The registry's display text in other languages (domain/wording.py): one JSON object per row,
-- {"name": {"nl": ...}, "description": {...}} (legal_basis for an authorization), '{}' for none.
ALTER TABLE services ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
ALTER TABLE capacities ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
ALTER TABLE mutation_types ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
ALTER TABLE authorizations ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
