-- Self-healing consumers (docs/architecture.md): projection_failures also keeps what
-- the projector set aside for good, for operators and `tracker replay`.
--
--   kind 'failed'       an event not applied yet (a gap the projector could not fill):
--                       the stream redelivers it; the row goes once the projection
--                       passes its version.
--   kind 'quarantined'  an event skipped for good (unreadable in the stream and in the
--                       event store, or impossible to apply); the projector also sends it
--                       to the failure destination. The checkpoint passes it, so the
--                       aggregate's later events apply.
--   kind 'left_out'     an applied event some of whose transactions are left out of the
--                       read models and figures (a date outside the stored range, a
--                       magnitude or split ratio beyond the bounds, a position that
--                       would outgrow them).
-- Quarantined and left-out rows stay until the aggregate is re-projected (tracker
-- replay), which records them again if the cause is still there.
alter table public.projection_failures
  add column kind     text not null default 'failed' check (kind in ('failed', 'quarantined', 'left_out')),
  add column event_id text not null default '',
  -- The stream record's image (DynamoDB JSON), when the stream's copy did not decode.
  add column image    text;
