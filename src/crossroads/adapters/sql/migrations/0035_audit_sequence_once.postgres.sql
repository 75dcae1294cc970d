-- crossroads_audit_append (0033) as it was, but for how it draws its numbers. It named the
-- sequence `nextval(pg_get_serial_sequence('audit_log', 'seq'))` for each entry: the name, a
-- text, was looked up in the catalog for every row (nextval of a text is a lookup, of a regclass
-- a read of the backend's cache): 3.7 µs a number against 0.5 (200,000 drawn in one query), a
-- tenth of the server's CPU under `bench mutations --store postgres`. The sequence is now
-- resolved once a call. The function still plans without sequential scans (0034): a replacement
-- keeps only the settings its own statement names, so this one names it again.
CREATE OR REPLACE FUNCTION crossroads_audit_append(
    p_at BIGINT[], p_subjects BYTEA[], p_records BYTEA[], p_leaves BYTEA[], p_lock BIGINT,
    p_wait_ms INTEGER, p_catch_up INTEGER
) RETURNS BIGINT[] LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    v_sequence REGCLASS := pg_get_serial_sequence('audit_log', 'seq')::regclass;
    v_size BIGINT;
    v_first BIGINT;
    v_waiting BOOLEAN;
    v_seqs BIGINT[];
    v_old_seqs BIGINT[];
    v_leaves BYTEA[];
    v_top INTEGER;
    v_missing BIGINT;
    v_part_levels INTEGER[] := '{}';
    v_part_hashes BYTEA[] := '{}';
    v_count INTEGER := 0;
    v_levels SMALLINT[] := '{}';
    v_positions BIGINT[] := '{}';
    v_hashes BYTEA[] := '{}';
    v_level INTEGER;
    v_position BIGINT;
    v_current BYTEA;
BEGIN
    PERFORM set_config('lock_timeout', p_wait_ms || 'ms', true);
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT COALESCE(MAX(leaf_index) + 1, 0) INTO v_size FROM audit_log
        WHERE leaf_index IS NOT NULL;
    v_first := v_size;
    v_waiting := FALSE;
    v_leaves := p_leaves;
    IF EXISTS (SELECT 1 FROM audit_log WHERE leaf_index IS NULL) THEN
        SELECT COALESCE(array_agg(w.seq ORDER BY w.seq), '{}'),
                COALESCE(array_agg(sha256('\x00'::bytea || w.record) ORDER BY w.seq), '{}')
            INTO v_old_seqs, v_leaves
            FROM (SELECT seq, record FROM audit_log WHERE leaf_index IS NULL
                  ORDER BY seq LIMIT p_catch_up) AS w;
        UPDATE audit_log SET leaf_index = v_size + o.n - 1
            FROM unnest(v_old_seqs) WITH ORDINALITY AS o(s, n) WHERE audit_log.seq = o.s;
        v_waiting := cardinality(v_old_seqs) = p_catch_up
            AND EXISTS (SELECT 1 FROM audit_log WHERE leaf_index IS NULL);
        v_first := v_size + cardinality(v_old_seqs);
        IF NOT v_waiting THEN
            v_leaves := v_leaves || p_leaves;
        END IF;
    END IF;
    WITH batch AS (
        SELECT nextval(v_sequence) AS seq, a, s, r, n
        FROM unnest(p_at, p_subjects, p_records) WITH ORDINALITY AS t(a, s, r, n)
    ), stored AS (
        INSERT INTO audit_log (seq, at_ms, subject_hash, record, leaf_index)
        SELECT seq, a, s, r, CASE WHEN v_waiting THEN NULL ELSE v_first + n - 1 END FROM batch
    )
    SELECT array_agg(seq ORDER BY n) INTO v_seqs FROM batch;
    -- The right edge: the root of each perfect part, the largest first; a part of 2^k leaves
    -- for each bit k of the size, at position (size >> k) - 1 of its level. One query: a loop
    -- over the bits here cost more than the rest of an exchange's append.
    SELECT array_agg(w.k ORDER BY w.k DESC), array_agg(m.hash ORDER BY w.k DESC),
            count(*) - count(m.hash), min(w.k) FILTER (WHERE m.hash IS NULL)
        INTO v_part_levels, v_part_hashes, v_missing, v_level
        FROM generate_series(0, 62) AS w(k)
        LEFT JOIN merkle_nodes m ON m.level = w.k AND m.position = (v_size >> w.k) - 1
        WHERE ((v_size >> w.k) & 1) = 1;
    IF v_missing > 0 THEN
        RAISE EXCEPTION USING MESSAGE = 'the audit tree of ' || v_size
            || ' entries lacks its stored node (' || v_level || ', '
            || ((v_size >> v_level) - 1) || '); run crossroads audit verify';
    END IF;
    v_part_levels := COALESCE(v_part_levels, '{}');
    v_part_hashes := COALESCE(v_part_hashes, '{}');
    v_top := cardinality(v_part_levels);
    FOR i IN 1..cardinality(v_leaves) LOOP
        v_current := v_leaves[i];
        v_level := 0;
        v_position := v_size + i - 1;
        v_count := v_count + 1;
        v_levels[v_count] := 0;
        v_positions[v_count] := v_position;
        v_hashes[v_count] := v_current;
        WHILE v_top > 0 AND v_part_levels[v_top] = v_level LOOP
            v_current := sha256('\x01'::bytea || v_part_hashes[v_top] || v_current);
            v_top := v_top - 1;
            v_level := v_level + 1;
            v_position := v_position >> 1;
            v_count := v_count + 1;
            v_levels[v_count] := v_level;
            v_positions[v_count] := v_position;
            v_hashes[v_count] := v_current;
        END LOOP;
        v_top := v_top + 1;
        v_part_levels[v_top] := v_level;
        v_part_hashes[v_top] := v_current;
    END LOOP;
    INSERT INTO merkle_nodes (level, position, hash)
        SELECT * FROM unnest(v_levels, v_positions, v_hashes);
    RETURN v_seqs;
END
$$;
