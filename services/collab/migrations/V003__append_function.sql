-- One group commit of the update log in one call: a round trip instead of four (BEGIN,
-- the writers' locks, the insert, COMMIT), run as one implicit transaction. The locks
-- come in the order the caller gives (lock_tns, lock_docs: (tenant, document) sorted,
-- once each), so two replicas' batches never wait on each other in a cycle. The
-- function is VOLATILE: its INSERT takes its snapshot after the locks are held, so each
-- document's last seq includes every earlier writer's commit. Answers each update's
-- seq in input order.
CREATE FUNCTION crdt_append(lock_tns bigint[], lock_docs text[], tns bigint[], docs text[],
                            hex text[], writers text[])
RETURNS TABLE (seq bigint) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  -- A function scan yields the array in order, and the locks are taken row by row.
  PERFORM pg_advisory_xact_lock(hashtextextended('crdt:w:' || l.t || ':' || l.d, 0))
    FROM unnest(lock_tns, lock_docs) AS l(t, d);
  RETURN QUERY
  WITH input AS (
    SELECT * FROM unnest(tns, docs, hex, writers) WITH ORDINALITY AS x(tn_id, doc_id, hex, id_tag, ord)),
  top AS MATERIALIZED (
    SELECT l.t AS tn_id, l.d AS doc_id,
           coalesce((SELECT max(u.seq) FROM crdt_updates u WHERE u.tn_id = l.t AND u.doc_id = l.d), 0) AS seq
    FROM unnest(lock_tns, lock_docs) AS l(t, d)),
  numbered AS MATERIALIZED (
    SELECT i.ord, i.tn_id, i.doc_id, i.hex, i.id_tag,
           t.seq + row_number() OVER (PARTITION BY i.tn_id, i.doc_id ORDER BY i.ord) AS seq
    FROM input i JOIN top t ON t.tn_id = i.tn_id AND t.doc_id = i.doc_id),
  ins AS (
    INSERT INTO crdt_updates (tn_id, doc_id, seq, bytes, id_tag)
    SELECT n.tn_id, n.doc_id, n.seq, decode(n.hex, 'hex'), n.id_tag FROM numbered n)
  SELECT n.seq FROM numbered n ORDER BY n.ord;
END
$$;
