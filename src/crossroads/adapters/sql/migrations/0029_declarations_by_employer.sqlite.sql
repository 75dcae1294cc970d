-- The declarations made for an employer, newest first (the employer's history in the portal and
-- the API's list, `declarations_for`): by the employer itself or by any payroll office acting for
-- it. The list is an equality on `employer` walked along this index newest first, stopping after
-- a page, as `declarations_by_declarant_institution` (0024) does for what an institution sent.
CREATE INDEX declarations_by_employer ON declarations (employer, id);
