-- From this version the audit log lives in a file of its own beside the store's (STORE.audit.sqlite3):
-- its tables are moved there by code, right after the migrations (adapters/sql/audit_file.py),
-- since a transaction of this file cannot also commit another file's. This migration changes
-- nothing in the store's file; its number tells a process of an earlier version, which would
-- look for the audit tables here, to refuse the store ("upgrade the hub"), and `crossroads
-- migrate --status` that the move is pending.
SELECT 1;
