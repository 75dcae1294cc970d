-- Rights (issue 21): the competent institution of each right, held by the registry (an audited
-- admin operation) rather than a setting: either a capacity in the reference directory (the
-- institution holding the person in it confirms) or one fixed institution.
CREATE TABLE rights_competence (
    right_code TEXT PRIMARY KEY,
    capacity TEXT,
    institution TEXT,
    legal_basis TEXT NOT NULL
);
