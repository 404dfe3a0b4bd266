-- SQLite only: its trigram search indexes are now filled in bulk, outside the ingest
-- transaction (migrations/sqlite/20261124000011_search_in_bulk.sql). PostgreSQL's pg_trgm
-- indexes live in the tables themselves; nothing changes here. The version is kept so
-- both backends have the same migration history.
SELECT 1;
