-- The privacy budget belongs to the project (the authorization) of the analyst's institution, not
-- to each of its applications: keyed by application, a second application of the same institution
-- started with a fresh budget on the same project (docs/statistics.md, "Budget"). What each
-- application spent is carried over, summed: a budget only ever grows.
INSERT INTO privacy_budgets (analyst, project, spent, updated_at_ms)
SELECT split_part(analyst, ':', 1), project, SUM(spent), MAX(updated_at_ms)
FROM privacy_budgets
WHERE position(':' in analyst) > 0
GROUP BY split_part(analyst, ':', 1), project;
DELETE FROM privacy_budgets WHERE position(':' in analyst) > 0;
