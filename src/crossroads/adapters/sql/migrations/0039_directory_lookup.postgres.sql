-- The directory's look-up by pair (an exchange's, the staff portal's search), one plan a
-- connection. `integrations` is hash-partitioned by subject (0001); a statement on it with its
-- values as parameters is planned again for every execution, prepared or not: a generic plan
-- counts all eight partitions' index scans, so the plan cache prefers a custom plan each time, and
-- planning one costs more than running it (`pg_stat_statements` under `bench exchange --store
-- postgres`, 10 s: the `= ANY` pair of sets 4,811 calls, 447 ms of planning against 213 of
-- execution; the single pair 2,914 calls, 179 against 45). Here each asked pair runs the same
-- statement on the primary key, planned once a connection without its values: the executor prunes
-- the other partitions' scans when it starts (`Subplans Removed: 7`; PostgreSQL 15 still locks all
-- eight). pgbench, one client, prepared: three pairs 0.10 ms a call against 0.24-0.25 for the
-- `= ANY` sets, one pair 0.083 ms against 0.093-0.099. Only the pairs asked are read (the sets'
-- cross product read the others too). No sequential scan, whatever the connection saw first: every
-- statement has the primary key to follow (see 0034).
CREATE FUNCTION crossroads_held_by(p_subjects BYTEA[], p_institutions TEXT[])
RETURNS TABLE (
    subject_key BYTEA, institution TEXT, capacity TEXT, phase SMALLINT, valid_from INTEGER,
    valid_to INTEGER
) LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
BEGIN
    FOR n IN 1..COALESCE(cardinality(p_subjects), 0) LOOP
        RETURN QUERY SELECT i.subject_key, i.institution, i.capacity, i.phase, i.valid_from,
                i.valid_to
            FROM integrations i
            WHERE i.subject_key = p_subjects[n] AND i.institution = p_institutions[n];
    END LOOP;
END
$$;
