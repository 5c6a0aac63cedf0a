//! Incremental Server-Sent Events decoder (the WHATWG event-stream grammar).
//!
//! Hand-written rather than taken from a crate because it sits on every streamed chunk: it
//! works on bytes, copies each line once, never re-scans consumed input, and handles what
//! real upstreams do (events split across reads, several events per read, `\r\n` and `\r`
//! line endings, comment lines, UTF-8 sequences split between reads).

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, when present.
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

/// Feed bytes in, get complete events out.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned for a line end.
    scanned: usize,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = self.scanned;
        while i < self.buf.len() {
            let b = self.buf[i];
            if b == b'\n' || b == b'\r' {
                if b == b'\r' && i + 1 == self.buf.len() {
                    // A `\r` at the end may be the first half of `\r\n`: wait for more.
                    break;
                }
                let line = String::from_utf8_lossy(&self.buf[start..i]).into_owned();
                self.on_line(&line, &mut out);
                i += if b == b'\r' && self.buf.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            } else {
                i += 1;
            }
        }
        self.buf.drain(..start);
        self.scanned = i - start;
        out
    }

    /// The stream ended: a last line without its newline, and an event without its blank
    /// line, are still delivered (upstreams that close right after `data: [DONE]` exist).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let text = String::from_utf8_lossy(&rest);
            let line = text.trim_end_matches('\r');
            self.on_line(line, &mut out);
        }
        self.scanned = 0;
        self.on_line("", &mut out);
        out
    }

    fn on_line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_data {
                let mut data = std::mem::take(&mut self.data);
                if data.ends_with('\n') {
                    data.pop();
                }
                out.push(SseEvent {
                    event: self.event.take(),
                    data,
                });
            }
            self.event = None;
            self.has_data = false;
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(d.feed(c));
        }
        out.extend(d.finish());
        out
    }

    #[test]
    fn grammar() {
        let text =
            b"event: ping\ndata: {\"a\":1}\n\n: comment\r\ndata:x\r\ndata: y\r\n\r\ndata: [DONE]";
        let evs = decode_all(&[text]);
        assert_eq!(
            evs,
            vec![
                SseEvent {
                    event: Some("ping".into()),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    event: None,
                    data: "x\ny".into()
                },
                SseEvent {
                    event: None,
                    data: "[DONE]".into()
                },
            ]
        );
    }

    #[test]
    fn cr_only_line_endings_and_split_crlf() {
        let evs = decode_all(&[b"data: a\r", b"\n\r", b"\ndata: b\r\r"]);
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].data, "a");
        assert_eq!(evs[1].data, "b");
    }

    proptest! {
        /// Any split of the same bytes yields the same events.
        #[test]
        fn any_split_yields_the_same_events(
            events in proptest::collection::vec(("[a-z_]{0,8}", "[ -~é😀]{0,30}"), 1..6),
            crlf in any::<bool>(),
            cuts in proptest::collection::vec(0usize..400, 0..10),
        ) {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut text = String::new();
            for (name, data) in &events {
                if !name.is_empty() { text.push_str(&format!("event: {name}{nl}")); }
                text.push_str(&format!("data: {data}{nl}{nl}"));
            }
            let bytes = text.as_bytes();
            let whole = decode_all(&[bytes]);
            prop_assert_eq!(whole.len(), events.len());
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            bounds.sort_unstable();
            bounds.dedup();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut last = 0;
            for b in bounds { chunks.push(&bytes[last..b]); last = b; }
            chunks.push(&bytes[last..]);
            prop_assert_eq!(decode_all(&chunks), whole);
        }
    }
}
