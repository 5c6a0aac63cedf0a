//! Incremental Server-Sent Events decoder (the WHATWG event-stream grammar).
//!
//! Hand-written rather than taken from a crate because it sits on every streamed chunk: it
//! works on bytes, finds line ends with `memchr`, reads each line where it lies (in the
//! chunk itself when no partial line is pending; only a chunk's unfinished last line is kept
//! for the next), copies only the field values it keeps, never re-scans consumed input, and
//! handles what real upstreams do (events split across reads, several events per read,
//! `\r\n` and `\r` line endings, comment lines, UTF-8 sequences split between reads).
//! Until stop 24 it copied every chunk into its buffer, scanned it a byte at a time and made
//! a `String` of each line through `from_utf8_lossy`: ~21k instructions of a one-chunk
//! stream's 174k through the gateway (callgrind), where this takes ~7k; a stream of 40
//! chunks went from 975k instructions to 842k (BENCHMARKS.md, stop 24).

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
    /// An unfinished line (no line end seen yet), or a line whose `\r` ended its chunk.
    buf: Vec<u8>,
    fields: Fields,
}

/// The event being built from its lines.
#[derive(Debug, Default)]
struct Fields {
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
        let mut out = Vec::new();
        if bytes.is_empty() {
            // Nothing to learn, not even whether a pending `\r` is half of `\r\n`.
            return out;
        }
        let mut rest = bytes;
        if !self.buf.is_empty() {
            // Finish the pending line first: a `\r` that ended the last chunk, with or
            // without this chunk's `\n`, or a line cut by the chunk boundary.
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
                if rest.first() == Some(&b'\n') {
                    rest = &rest[1..];
                }
                self.fields.on_line(&self.buf, &mut out);
                self.buf.clear();
            } else {
                let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                    self.buf.extend_from_slice(rest);
                    return out;
                };
                self.buf.extend_from_slice(&rest[..end]);
                match line_end(rest, end) {
                    Some(next) => {
                        self.fields.on_line(&self.buf, &mut out);
                        self.buf.clear();
                        rest = &rest[next..];
                    }
                    // A `\r` at the end may be the first half of `\r\n`: wait for more.
                    None => {
                        self.buf.push(b'\r');
                        return out;
                    }
                }
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            let Some(next) = line_end(rest, end) else {
                break;
            };
            self.fields.on_line(&rest[..end], &mut out);
            rest = &rest[next..];
        }
        self.buf.extend_from_slice(rest);
        out
    }

    /// The stream ended: a last line without its newline, and an event without its blank
    /// line, are still delivered (upstreams that close right after `data: [DONE]` exist).
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let line = rest.strip_suffix(b"\r").unwrap_or(&rest);
            self.fields.on_line(line, &mut out);
        }
        self.fields.on_line(b"", &mut out);
        out
    }
}

/// Where the line ending at `rest[end]` (a `\n` or `\r`) is followed by the next line, or
/// `None` for a `\r` that ends `rest` (it may be the first half of `\r\n`).
fn line_end(rest: &[u8], end: usize) -> Option<usize> {
    match (rest[end], rest.get(end + 1)) {
        (b'\r', None) => None,
        (b'\r', Some(b'\n')) => Some(end + 2),
        _ => Some(end + 1),
    }
}

impl Fields {
    fn on_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        // Valid UTF-8 (every upstream's) is read in place; anything else as
        // `from_utf8_lossy` makes it, as before.
        let lossy;
        let line = match std::str::from_utf8(line) {
            Ok(line) => line,
            Err(_) => {
                lossy = String::from_utf8_lossy(line);
                &lossy
            }
        };
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
                // With its `\n` in one allocation (the event's `data` starts empty).
                self.data.reserve(value.len() + 1);
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

    #[test]
    fn an_empty_read_between_cr_and_lf_keeps_them_one_line_end() {
        let evs = decode_all(&[b"data: a\r", b"", b"\ndata: b\n\n"]);
        assert_eq!(
            evs,
            vec![SseEvent {
                event: None,
                data: "a\nb".into()
            }]
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let evs = decode_all(&[b"data: a\xff", b"b\n\ndata: \xc3\n\n"]);
        let data: Vec<&str> = evs.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["a\u{fffd}b", "\u{fffd}"]);
    }

    proptest! {
        /// Any split of the same bytes yields the same events, whichever line ending (a `\r`
        /// alone included, whose chunk may end between it and what follows).
        #[test]
        fn any_split_yields_the_same_events(
            events in proptest::collection::vec(("[a-z_]{0,8}", "[ -~é😀]{0,30}"), 1..6),
            nl in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
            cuts in proptest::collection::vec(0usize..400, 0..10),
        ) {
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
