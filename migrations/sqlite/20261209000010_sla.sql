-- SLA targets: a policy per channel and per team (the domain's `SlaPolicy` as JSON,
-- parsed before it is written). A conversation takes, when it is created, the policy of
-- its effective team if that team has one, else its channel's; its due times are then
-- fixed (a policy changed later applies to new conversations only).
--
-- Per conversation and target (first response, resolution):
--   *_due_at    when it falls due, in business time of the channel's hours (NULL: no target);
--   *_alert_at  the next live event still to fire: before `*_due_at` the warning, equal to
--               it the breach; NULL once nothing is left to fire (met, breached, resolved);
--   *_sla       'met' or 'breached' once decided (NULL: pending or no target).
-- sla_due_at is the soonest due time still pending (the queue's "SLA due" sort); NULL
-- once the conversation is resolved or has no target left.
CREATE TABLE channel_sla_policies (
    channel_id  BLOB PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    policy      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE team_sla_policies (
    team_id     BLOB PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    policy      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

ALTER TABLE conversations ADD COLUMN first_response_due_at INTEGER;
ALTER TABLE conversations ADD COLUMN first_response_alert_at INTEGER;
ALTER TABLE conversations ADD COLUMN first_response_sla TEXT;
ALTER TABLE conversations ADD COLUMN resolution_due_at INTEGER;
ALTER TABLE conversations ADD COLUMN resolution_alert_at INTEGER;
ALTER TABLE conversations ADD COLUMN resolution_sla TEXT;
ALTER TABLE conversations ADD COLUMN sla_due_at INTEGER;

-- The queue sorted by SLA due, soonest first.
CREATE INDEX conversations_sla_due ON conversations (sla_due_at, id) WHERE sla_due_at IS NOT NULL;
-- The scheduler's look for events to fire: only conversations with one pending.
CREATE INDEX conversations_first_response_alert ON conversations (first_response_alert_at)
    WHERE first_response_alert_at IS NOT NULL;
CREATE INDEX conversations_resolution_alert ON conversations (resolution_alert_at)
    WHERE resolution_alert_at IS NOT NULL;
