-- Whom each browser session was opened for, apart from what else it holds (docs/security.md,
-- "Browser sessions"): `person` is the SHA-256 of the audience and the person alone (a citizen's
-- keyed hash, a portal user's keyed hash of their subject, an operator's id), so that an operator
-- can end one person's sessions (`crossroads sessions end`, DELETE /admin/sessions) by an
-- equality on this index. A citizen's and an operator's session held nothing else of whom it is
-- for, so their `identity` is that digest already; a portal session's identity also holds the
-- organisation and role it acts in, which cannot be taken apart again, so the portal sessions
-- opened before this migration are ended (those people sign in again, once).
ALTER TABLE browser_sessions ADD COLUMN person TEXT;
UPDATE browser_sessions SET person = identity WHERE audience IN ('citizen', 'operator');
DELETE FROM browser_sessions WHERE person IS NULL;
ALTER TABLE browser_sessions ALTER COLUMN person SET NOT NULL;
CREATE INDEX browser_sessions_person ON browser_sessions (person);
