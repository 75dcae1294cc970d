-- An integration right's legal basis in other languages (domain/wording.py), as migration 0030
-- gave the authorizations': {"legal_basis": {"nl": ...}}, '{}' for none.
ALTER TABLE integration_rights ADD COLUMN translations TEXT NOT NULL DEFAULT '{}';
