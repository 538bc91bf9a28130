-- flightdeck team mode: the shared release journal.
-- Append-only: flightdeck's runtime roles need INSERT (on the columns a
-- client writes) and SELECT only.

CREATE TABLE IF NOT EXISTS public.flightdeck_release_events (
    seq         bigserial   PRIMARY KEY,
    release     text        NOT NULL,
    id          text        NOT NULL,
    -- When: the database's clock (transaction start), set by the trigger.
    at          timestamptz NOT NULL,
    -- Who did it: the database role of the session that wrote the row, set
    -- by the trigger below whatever the client sends.
    actor       text        NOT NULL,
    -- The action as flightdeck writes it ({"action": "tick", "item": …}).
    action      jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (release, id)
);

-- Who may sign off for a role (`[team.signers]`); a role not listed: anyone.
CREATE TABLE IF NOT EXISTS public.flightdeck_signers (
    role    text NOT NULL,
    db_role text NOT NULL,
    PRIMARY KEY (role, db_role)
);

-- The search path is fixed: a seat's temporary table of the same name can
-- never stand in for the signers.
CREATE OR REPLACE FUNCTION public.flightdeck_release_event_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    signed_role text;
BEGIN
    -- Set by the server, whatever the client sends: order, time, actor.
    NEW.seq := nextval(pg_get_serial_sequence('public.flightdeck_release_events', 'seq'));
    NEW.at := now();
    NEW.actor := session_user;
    NEW.recorded_at := clock_timestamp();
    IF NEW.action->>'action' IN ('sign_off', 'revoke_sign_off') THEN
        signed_role := NEW.action->>'role';
        IF EXISTS (SELECT 1 FROM public.flightdeck_signers s WHERE s.role = signed_role)
           AND NOT EXISTS (SELECT 1 FROM public.flightdeck_signers s
                           WHERE s.role = signed_role AND s.db_role = session_user) THEN
            RAISE EXCEPTION 'flightdeck: % may not sign off for %: [team.signers] lists who may', session_user, signed_role
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS flightdeck_release_event_guard ON public.flightdeck_release_events;
CREATE TRIGGER flightdeck_release_event_guard
    BEFORE INSERT ON public.flightdeck_release_events
    FOR EACH ROW EXECUTE FUNCTION public.flightdeck_release_event_guard();

-- A new row is a hint for seats that LISTEN; the table is the truth.
CREATE OR REPLACE FUNCTION public.flightdeck_release_event_notify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('flightdeck_release_events', NEW.release);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS flightdeck_release_event_notify ON public.flightdeck_release_events;
CREATE TRIGGER flightdeck_release_event_notify
    AFTER INSERT ON public.flightdeck_release_events
    FOR EACH ROW EXECUTE FUNCTION public.flightdeck_release_event_notify();
