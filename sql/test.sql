-- Schema for the integration tests (test/integration/), loaded next to
-- sql/demo.sql into the template database every test's database is made from.

-- Every kind of value PROTOCOL.md promises to carry exactly.
CREATE TABLE t_values (
    id         serial PRIMARY KEY,
    i          int,
    b          bigint,
    n          numeric,
    f          float8,
    r          real,
    t          text,
    vc         varchar(5),
    bo         boolean,
    j          json,
    jb         jsonb,
    ia         int[],
    ta         text[],
    na         numeric[],
    ts         timestamptz,
    d          date,
    u          uuid,
    dflt       text NOT NULL DEFAULT 'the default',
    "CamelCol" text,
    "sp ace"   text
);

-- Constraints to violate: per-row errors inside a batch.
CREATE TABLE t_checks (
    id   int PRIMARY KEY,
    v    int CHECK (v >= 0) NOT NULL,
    code text UNIQUE
);

-- Exact, case-sensitive names: schema "App", table "Events", and a
-- lower-case twin that must not be confused with it.
CREATE SCHEMA "App";
CREATE TABLE "App"."Events" (id serial PRIMARY KEY, "Kind" text, kind text);
CREATE TABLE app_events_lower (id serial PRIMARY KEY, kind text);
CREATE SCHEMA app;
CREATE TABLE app.events (id serial PRIMARY KEY, kind text);

-- A table of nothing but defaults.
CREATE TABLE t_defaults (
    id  bigserial PRIMARY KEY,
    at  timestamptz NOT NULL DEFAULT now(),
    tag text NOT NULL DEFAULT 'none'
);

-- A domain and a generated column, both need casts / skip on insert.
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE t_domain (
    id   serial PRIMARY KEY,
    p    posint,
    twice int GENERATED ALWAYS AS (p * 2) STORED
);

-- ---- fault injection (test_faults.py, test_overload.py, test_hostile.py) ----

-- Rows with a client-generated key: an acked row must be stored exactly once,
-- a failed one not at all. No UNIQUE constraint on purpose: a row written
-- twice shows up as two rows instead of as an error.
CREATE TABLE t_keyed (
    k  text NOT NULL,
    c  int,
    at timestamptz NOT NULL DEFAULT now()
);

-- A statement trigger that fails the first `times` INSERTs with SQLSTATE
-- `code`. The counter is a sequence: it survives the rollback of the attempt
-- it counts.
CREATE TABLE flaky_config (code text, times int NOT NULL DEFAULT 0);
INSERT INTO flaky_config VALUES (NULL, 0);
CREATE SEQUENCE flaky_calls;
CREATE TABLE t_flaky (k text NOT NULL);
CREATE FUNCTION flaky_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n   bigint := nextval('flaky_calls');
    cfg flaky_config;
BEGIN
    SELECT * INTO cfg FROM flaky_config;
    IF cfg.code IS NOT NULL AND n <= cfg.times THEN
        RAISE EXCEPTION 'injected failure % of %', n, cfg.times USING ERRCODE = cfg.code;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER flaky BEFORE INSERT ON t_flaky FOR EACH STATEMENT EXECUTE FUNCTION flaky_insert();

-- A COMMIT that takes long: a deferred constraint trigger sleeps at COMMIT
-- for the first `times` rows (pg_stat_activity then shows query 'COMMIT',
-- wait_event 'PgSleep'). Table and counter are UNLOGGED: until its commit
-- record, a transaction writing here writes no WAL, so a crash during that
-- COMMIT certainly loses its xid (PostgreSQL then hands it out again).
CREATE TABLE slow_commit_config (sleep_s float8 NOT NULL DEFAULT 0, times int NOT NULL DEFAULT 0);
INSERT INTO slow_commit_config VALUES (0, 0);
CREATE UNLOGGED SEQUENCE slow_commit_calls;
CREATE UNLOGGED TABLE t_slow_commit (k text NOT NULL);
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cfg slow_commit_config;
BEGIN
    SELECT * INTO cfg FROM slow_commit_config;
    IF nextval('slow_commit_calls') <= cfg.times THEN
        PERFORM pg_sleep(cfg.sleep_s);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON t_slow_commit
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();

-- A deadlock: the first INSERT waits for advisory lock 42 (held by a test
-- session that then asks for a lock the INSERT's transaction holds).
CREATE SEQUENCE deadlock_calls;
CREATE TABLE t_deadlock (k text NOT NULL);
CREATE FUNCTION deadlock_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('deadlock_calls') = 1 THEN
        PERFORM pg_advisory_xact_lock(42);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER deadlock BEFORE INSERT ON t_deadlock FOR EACH STATEMENT EXECUTE FUNCTION deadlock_insert();

-- Hostile names (test_hostile.py): identifiers that would run SQL if they
-- were ever pasted into a statement. Stored as data, never executed.
CREATE TABLE "t'; DROP TABLE events; --" (
    id                           serial PRIMARY KEY,
    "c""; DROP TABLE events; --" text,
    "a'b"                        text
);
CREATE TABLE "odd.name" (v text);

-- Like t_keyed, with a CHECK that poison rows (c < 0) violate: their batch
-- is isolated row by row while the load goes on.
CREATE TABLE t_keyed_checked (k text NOT NULL, c int CHECK (c >= 0));
