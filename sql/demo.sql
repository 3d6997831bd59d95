-- Demo schema: the table `make run`, the README examples, `pgcoalesce-cli bench`
-- and `make bench` write to. Safe to load more than once.
CREATE TABLE IF NOT EXISTS events (
    id         bigserial   PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    device_id  int         NOT NULL,
    kind       text        NOT NULL,
    value      float8,
    payload    jsonb
);

-- One row per device, kept up to date (issue 13's upserts): the README's
-- ON CONFLICT examples and make bench's upsert contenders write here.
-- `seen` is set from the newest row, `hits` counts (ON CONFLICT ... add).
CREATE TABLE IF NOT EXISTS devices (
    device_id  int         PRIMARY KEY,
    seen       timestamptz,
    hits       bigint      NOT NULL DEFAULT 0,
    kind       text
);
