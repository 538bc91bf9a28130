-- flightdeck team mode: the shared release journal.
-- Append-only: flightdeck's runtime roles need INSERT and SELECT only.

CREATE TABLE IF NOT EXISTS flightdeck_release_events (
    seq         bigserial   PRIMARY KEY,
    release     text        NOT NULL,
    id          text        NOT NULL,
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
CREATE TABLE IF NOT EXISTS flightdeck_signers (
    role    text NOT NULL,
    db_role text NOT NULL,
    PRIMARY KEY (role, db_role)
);

CREATE OR REPLACE FUNCTION flightdeck_release_event_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    signed_role text;
BEGIN
    NEW.actor := session_user;
    NEW.recorded_at := now();
    IF NEW.action->>'action' IN ('sign_off', 'revoke_sign_off') THEN
        signed_role := NEW.action->>'role';
        IF EXISTS (SELECT 1 FROM flightdeck_signers WHERE role = signed_role)
           AND NOT EXISTS (SELECT 1 FROM flightdeck_signers WHERE role = signed_role AND db_role = session_user) THEN
            RAISE EXCEPTION 'flightdeck: % may not sign off for %: [team.signers] lists who may', session_user, signed_role
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS flightdeck_release_event_guard ON flightdeck_release_events;
CREATE TRIGGER flightdeck_release_event_guard
    BEFORE INSERT ON flightdeck_release_events
    FOR EACH ROW EXECUTE FUNCTION flightdeck_release_event_guard();

-- Every seat LISTENs: a new row is a hint to read the table (the truth).
CREATE OR REPLACE FUNCTION flightdeck_release_event_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('flightdeck_release_events', NEW.release);
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS flightdeck_release_event_notify ON flightdeck_release_events;
CREATE TRIGGER flightdeck_release_event_notify
    AFTER INSERT ON flightdeck_release_events
    FOR EACH ROW EXECUTE FUNCTION flightdeck_release_event_notify();
