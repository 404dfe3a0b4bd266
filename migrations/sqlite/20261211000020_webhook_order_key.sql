-- What a message is about (its conversation's id, or its contact's for contact events):
-- one endpoint's deliveries with the same key are sent one after the other, in order;
-- those with different keys side by side. NULL (messages from before): one lane per
-- endpoint, as before.
ALTER TABLE webhook_messages ADD COLUMN order_key BLOB;
