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
