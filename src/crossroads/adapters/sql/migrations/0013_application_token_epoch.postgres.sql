-- Access tokens carry their application's credential epoch, and are refused once it changed:
-- a new epoch is drawn for every new application and every time one is put inactive. Existing
-- applications start at '', the epoch of tokens issued before this column existed.
ALTER TABLE applications ADD COLUMN token_epoch TEXT NOT NULL DEFAULT '';
