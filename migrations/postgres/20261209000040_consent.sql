-- Consent to automatic messages and templates (opt-out keywords such as STOP, opt-in
-- keywords such as START, changes recorded by agents and the API).
--
-- `contacts.opted_out_at` set means the contact is opted out since then (`opted_out_source`:
-- keyword | agent | api | import): the auto-replies, the survey, templates and the sender
-- read it. Every change appends to `consent_events`, the contact's history, which is kept
-- (and exported) with the contact. `consent_settings` is one row: the domain's
-- `ConsentSettings` as JSON (validated before written); no row means the defaults.
-- Each change also writes a `contact_changes` row (kind `opted_out` | `opted_in`) for
-- the outgoing webhooks' `contact.consent_changed`.
ALTER TABLE contacts ADD COLUMN opted_out_at TIMESTAMPTZ;
ALTER TABLE contacts ADD COLUMN opted_out_source TEXT;

CREATE TABLE consent_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id  UUID NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    source      TEXT NOT NULL,
    message_id  UUID REFERENCES messages (id) ON DELETE SET NULL,
    agent_id    UUID REFERENCES agents (id) ON DELETE SET NULL,
    note        TEXT,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX consent_events_contact ON consent_events (contact_id, id);

CREATE TABLE consent_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    settings    JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
