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
