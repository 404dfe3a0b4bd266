-- Clicks on short links are counted, not logged one row each: per link, UTC hour,
-- browser family and referrer host ('' for none). The server adds clicks up in memory
-- and writes them every links.click_flush_secs, so a flood of clicks costs a few rows an
-- hour and one write per interval.
CREATE TABLE link_click_counts (
    link_id        UUID NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    hour           TIMESTAMPTZ NOT NULL,
    agent_family   TEXT NOT NULL,   -- chrome, safari, firefox, edge, whatsapp, bot, other
    referrer_host  TEXT NOT NULL,
    clicks         BIGINT NOT NULL,
    PRIMARY KEY (link_id, hour, agent_family, referrer_host)
);

INSERT INTO link_click_counts (link_id, hour, agent_family, referrer_host, clicks)
SELECT link_id, date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', agent_family,
       COALESCE(referrer_host, ''), COUNT(*)
FROM link_clicks
GROUP BY 1, 2, 3, 4;

DROP TABLE link_clicks;
