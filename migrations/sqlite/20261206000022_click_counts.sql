-- Clicks on short links are counted, not logged one row each: per link, UTC hour
-- (epoch milliseconds of its start), browser family and referrer host ('' for none).
-- The server adds clicks up in memory and writes them every links.click_flush_secs, so
-- a flood of clicks costs a few rows an hour and one write per interval.
CREATE TABLE link_click_counts (
    link_id        BLOB NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    hour           INTEGER NOT NULL,
    agent_family   TEXT NOT NULL,   -- chrome, safari, firefox, edge, whatsapp, bot, other
    referrer_host  TEXT NOT NULL,
    clicks         INTEGER NOT NULL,
    PRIMARY KEY (link_id, hour, agent_family, referrer_host)
) WITHOUT ROWID;

INSERT INTO link_click_counts (link_id, hour, agent_family, referrer_host, clicks)
SELECT link_id, at - at % 3600000, agent_family, COALESCE(referrer_host, ''), COUNT(*)
FROM link_clicks
GROUP BY 1, 2, 3, 4;

DROP TABLE link_clicks;
