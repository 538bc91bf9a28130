-- flightdeck team mode: one poll load. The seat that holds the release's
-- advisory lock polls the sources and writes what they answered here; the
-- other seats read it instead of polling.

-- The newest answer of each source for each cell of a release. The leader
-- upserts (so the runtime role needs UPDATE on this table, and only here);
-- `rev` orders the writes so a following seat reads only what is newer
-- than what it has.
CREATE SEQUENCE IF NOT EXISTS public.flightdeck_cells_rev;

CREATE TABLE IF NOT EXISTS public.flightdeck_cells (
    release     text        NOT NULL,
    service     text        NOT NULL,
    environment text        NOT NULL,
    source      text        NOT NULL,
    -- The answer as the leader applied it: evidence, role, when it was
    -- asked, and the reading or the error.
    state       jsonb       NOT NULL,
    rev         bigint      NOT NULL DEFAULT 0,
    written_at  timestamptz NOT NULL DEFAULT now(),
    -- The database role of the seat that polled (set by the trigger).
    leader      text        NOT NULL DEFAULT '',
    PRIMARY KEY (release, service, environment, source)
);

CREATE INDEX IF NOT EXISTS flightdeck_cells_by_rev ON public.flightdeck_cells (release, rev);

-- The history behind `stale`, known-good and the events pane: each change
-- of version a leader saw, append-only.
CREATE TABLE IF NOT EXISTS public.flightdeck_observations (
    seq         bigserial   PRIMARY KEY,
    release     text        NOT NULL,
    event       jsonb       NOT NULL,
    leader      text        NOT NULL DEFAULT '',
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS flightdeck_observations_by_release ON public.flightdeck_observations (release, seq);

CREATE OR REPLACE FUNCTION public.flightdeck_cell_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    NEW.rev := nextval('public.flightdeck_cells_rev');
    NEW.written_at := clock_timestamp();
    NEW.leader := session_user;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS flightdeck_cell_guard ON public.flightdeck_cells;
CREATE TRIGGER flightdeck_cell_guard
    BEFORE INSERT OR UPDATE ON public.flightdeck_cells
    FOR EACH ROW EXECUTE FUNCTION public.flightdeck_cell_guard();

CREATE OR REPLACE FUNCTION public.flightdeck_observation_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    NEW.leader := session_user;
    NEW.recorded_at := clock_timestamp();
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS flightdeck_observation_guard ON public.flightdeck_observations;
CREATE TRIGGER flightdeck_observation_guard
    BEFORE INSERT ON public.flightdeck_observations
    FOR EACH ROW EXECUTE FUNCTION public.flightdeck_observation_guard();

-- The schema version for `flightdeck team status`, readable by the seats
-- (the migrations' own table is the owner's).
CREATE OR REPLACE VIEW public.flightdeck_schema AS
    SELECT coalesce(max(version), 0)::bigint AS version FROM public._sqlx_migrations WHERE success;
