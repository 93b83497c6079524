-- Actions this tenant created or received (PROTOCOL §2.7 status codes). `action_id` is
-- the hash of `token` (§2.2); the wire shape is written by action_view.cc.
CREATE TABLE actions (
  tn_id        bigint NOT NULL,
  a_id         bigserial NOT NULL,
  action_id    text NOT NULL,
  type         text NOT NULL,
  sub_type     text,
  issuer       text NOT NULL,
  audience     text,
  parent_id    text,
  root_id      text,
  subject      text,
  content      text,            -- JSON text of `c`, NULL when absent
  attachments  text[],
  visibility   text NOT NULL DEFAULT 'D',
  flags        text,
  status       text NOT NULL,
  key          text,            -- dedup/supersede key (§2.7)
  token        text NOT NULL,
  created_at   timestamptz NOT NULL,  -- the token's iat
  received_at  timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  outbound     boolean NOT NULL DEFAULT false,
  reactions    text,            -- "<total>,<code><count>..." (owner's counters or the owner's STAT)
  comments     integer NOT NULL DEFAULT 0,
  comments_ts  bigint NOT NULL DEFAULT 0,
  reposts      integer NOT NULL DEFAULT 0,
  stat_at      bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tn_id, a_id)
);
CREATE UNIQUE INDEX actions_by_id ON actions (tn_id, action_id);
CREATE INDEX actions_by_key ON actions (tn_id, key) WHERE key IS NOT NULL;
CREATE INDEX actions_by_time ON actions (tn_id, created_at DESC, a_id DESC);
CREATE INDEX actions_by_parent ON actions (tn_id, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX actions_by_subject ON actions (tn_id, subject) WHERE subject IS NOT NULL;

-- One row per (action, recipient): the durable outbox (§2.9, §13.5). A worker leases a
-- due row by moving next_at ahead, so a worker that dies leaves it due again.
CREATE TABLE deliveries (
  tn_id        bigint NOT NULL,
  a_id         bigint NOT NULL,
  recipient    text NOT NULL,
  related      text[] NOT NULL DEFAULT '{}',
  state        text NOT NULL DEFAULT 'Q',  -- Q queued, D delivered, F failed
  attempts     integer NOT NULL DEFAULT 0,
  next_at      timestamptz NOT NULL DEFAULT now(),
  last_status  integer,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  done_at      timestamptz,
  PRIMARY KEY (tn_id, a_id, recipient)
);
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE state = 'Q';

-- Tokens accepted by POST /api/inbox (committed before the 201, §13.4) and history
-- items, waiting for the verifier. Leased like deliveries.
CREATE TABLE inbound (
  tn_id        bigint NOT NULL,
  in_id        bigserial NOT NULL,
  tenant       text NOT NULL,   -- the receiving tenant's id_tag
  token        text NOT NULL,
  related      text[] NOT NULL DEFAULT '{}',
  client_ip    text,
  attempts     integer NOT NULL DEFAULT 0,
  next_at      timestamptz NOT NULL DEFAULT now(),
  last_error   text,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tn_id, in_id)
);
CREATE INDEX inbound_due ON inbound (next_at);
