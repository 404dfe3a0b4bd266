-- An agent's conversations by last activity (the console's and the API's "mine" view):
-- read in order from the index, instead of every one of the agent's conversations sorted.
-- Its prefix still serves an agent's load (capacity), which the index it replaces served.
DROP INDEX conversations_assignee;
CREATE INDEX conversations_assignee ON conversations (assignee_id, status, last_message_at DESC, id DESC)
    WHERE assignee_id IS NOT NULL;
