//! A tiny server-sent events reader for tests: frames split on blank lines, `id:`,
//! `event:` and `data:` fields, comment lines (`: keep-alive`) kept apart.

use std::time::Duration;

use serde_json::Value;

/// One frame of the stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Event(SseEvent),
    /// A frame of comment lines only (their text, without the colon).
    Comment(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct SseEvent {
    pub id: i64,
    pub event: String,
    pub data: Value,
}

/// Reads frames off a streaming response.
pub struct SseStream {
    res: reqwest::Response,
    buf: String,
}

impl SseStream {
    /// Checks the response is an event stream.
    ///
    /// # Panics
    /// If it is not a 200 `text/event-stream`.
    #[must_use]
    pub fn new(res: reqwest::Response) -> Self {
        assert_eq!(res.status(), 200, "the event stream opens");
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Self { res, buf: String::new() }
    }

    /// The next frame; `None` when the server ended the stream.
    ///
    /// # Panics
    /// On a transport error or a malformed frame.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..end + 2).collect();
                return Some(parse(raw.trim_end_matches('\n')));
            }
            match self.res.chunk().await {
                Ok(Some(bytes)) => self.buf.push_str(std::str::from_utf8(&bytes).expect("the stream is UTF-8")),
                Ok(None) => {
                    assert!(self.buf.trim().is_empty(), "the stream ended mid-frame: {:?}", self.buf);
                    return None;
                }
                Err(e) => panic!("reading the event stream: {e}"),
            }
        }
    }

    /// The next frame within `within`; `None` on time-out.
    ///
    /// # Panics
    /// If the stream ends.
    pub async fn frame_within(&mut self, within: Duration) -> Option<Frame> {
        match tokio::time::timeout(within, self.next_frame()).await {
            Ok(Some(frame)) => Some(frame),
            Ok(None) => panic!("the event stream ended"),
            Err(_) => None,
        }
    }

    /// The next event (keep-alives skipped), waiting at most 5 s.
    ///
    /// # Panics
    /// If none arrives, or the stream ends.
    pub async fn next_event(&mut self) -> SseEvent {
        self.event_within(Duration::from_secs(5)).await.expect("an event within 5 s")
    }

    /// The next event within `within` (keep-alives skipped); `None` on time-out.
    ///
    /// # Panics
    /// If the stream ends.
    pub async fn event_within(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.frame_within(left).await? {
                Frame::Event(e) => return Some(e),
                Frame::Comment(_) => {}
            }
        }
    }

    /// The next `n` events.
    pub async fn events(&mut self, n: usize) -> Vec<SseEvent> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next_event().await);
        }
        out
    }
}

fn parse(raw: &str) -> Frame {
    let (mut id, mut event, mut data, mut comments) = (None, None, Vec::new(), Vec::new());
    for line in raw.lines() {
        if let Some(c) = line.strip_prefix(':') {
            comments.push(c.trim_start().to_owned());
            continue;
        }
        let (field, value) = line.split_once(':').map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
        match field {
            "id" => id = Some(value.parse::<i64>().unwrap_or_else(|_| panic!("event id {value:?}"))),
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value.to_owned()),
            "retry" => {}
            other => panic!("unexpected SSE field {other:?} in {raw:?}"),
        }
    }
    if id.is_none() && event.is_none() && data.is_empty() {
        return Frame::Comment(comments.join("\n"));
    }
    Frame::Event(SseEvent {
        id: id.unwrap_or_else(|| panic!("an event without an id: {raw:?}")),
        event: event.unwrap_or_else(|| "message".into()),
        data: serde_json::from_str(&data.join("\n")).unwrap_or_else(|e| panic!("event data is JSON ({e}): {raw:?}")),
    })
}
