-- Initial synchronisation (issue 4): where a mutation type's publisher answers a person's current
-- state, so that integrating a person can push it to the new holder's subscriptions.
ALTER TABLE mutation_types ADD COLUMN state_path TEXT;
