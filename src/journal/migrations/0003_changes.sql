-- flightdeck team mode: what ships. The leading seat asks the compare API
-- (the commits between two refs, whether a ref is in the mainline) and
-- writes each answer here; the following seats read them, so every seat
-- judges `not_merged_back` and shows the same changes without a token.

CREATE SEQUENCE IF NOT EXISTS public.flightdeck_changes_rev;

CREATE TABLE IF NOT EXISTS public.flightdeck_changes (
    release    text        NOT NULL,
    -- The question ({"ask": "compare", "repo": …, "base": …, "head": …}).
    ask        jsonb       NOT NULL,
    answer     jsonb       NOT NULL,
    rev        bigint      NOT NULL DEFAULT 0,
    written_at timestamptz NOT NULL DEFAULT now(),
    leader     text        NOT NULL DEFAULT '',
    PRIMARY KEY (release, ask)
);

CREATE INDEX IF NOT EXISTS flightdeck_changes_by_rev ON public.flightdeck_changes (release, rev);

CREATE OR REPLACE FUNCTION public.flightdeck_changes_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    NEW.rev := nextval('public.flightdeck_changes_rev');
    NEW.written_at := clock_timestamp();
    NEW.leader := session_user;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS flightdeck_changes_guard ON public.flightdeck_changes;
CREATE TRIGGER flightdeck_changes_guard
    BEFORE INSERT OR UPDATE ON public.flightdeck_changes
    FOR EACH ROW EXECUTE FUNCTION public.flightdeck_changes_guard();
