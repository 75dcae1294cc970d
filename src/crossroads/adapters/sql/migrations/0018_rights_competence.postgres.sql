-- Rights (issue 21): the competent institution of each right, held by the registry (an audited
-- admin operation) rather than a setting: either a capacity in the reference directory (the
-- institution holding the person in it confirms) or one fixed institution.
CREATE TABLE rights_competence (
    right_code TEXT PRIMARY KEY,
    capacity TEXT,
    institution TEXT,
    legal_basis TEXT NOT NULL
);

-- Statistics (issue 20): what the warehouse's rights mart groups by, in columns, so that the
-- extraction reads them without the decisions' bodies: what led to a decision (a change, or a
-- non-take-up scan) and whether the person was a child (the decision's `child` fact).
ALTER TABLE rights_decisions ADD COLUMN origin TEXT;
ALTER TABLE rights_decisions ADD COLUMN age_group TEXT;
UPDATE rights_decisions SET
    origin = body::jsonb ->> 'origin',
    age_group = (
        SELECT CASE WHEN (fact ->> 'value')::boolean THEN 'child' ELSE 'adult' END
        FROM jsonb_array_elements(body::jsonb -> 'facts') AS fact
        WHERE fact ->> 'name' = 'child'
    );
