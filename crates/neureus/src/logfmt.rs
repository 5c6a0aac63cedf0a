//! The field formatter of the process's log lines (`tracing_subscriber::fmt().fmt_fields`).
//!
//! Written by hand because the default one (`DefaultFields`) is on every request's path: at
//! the default level (`info`) the fmt layer formats the request span's fields as they are
//! set, on every request, whether or not a line is ever written. `DefaultFields` paints each
//! field name through `nu_ansi_term` (even with colours off) and formats every value through
//! `core::fmt` machinery; callgrind put the span at ~9.7k instructions a request at `info`
//! (BENCHMARKS.md, stop 19). This one writes `name=value` with one `write_str` a part and
//! looks for characters to escape with a table lookup a byte: 119.3k -> 117.1k instructions
//! a request at `info` (the rest of the span's cost is the registry's, not formatting).
//!
//! Output, as `DefaultFields` gives it: the message first without a name, then `name=value`
//! separated by spaces; `str` values quoted; `r#` stripped from raw identifiers; an error's
//! sources as `name.sources=[..]`. One difference, on purpose: control characters are escaped
//! in every value, not only in the message (a `\n` in a logged value cannot forge a line, an
//! ESC cannot reach a terminal).

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

/// The formatter; pass to `fmt().fmt_fields(PlainFields)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainFields;

impl<'a> MakeVisitor<Writer<'a>> for PlainFields {
    type Visitor = PlainVisitor<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> PlainVisitor<'a> {
        PlainVisitor {
            writer: target,
            first: true,
            result: Ok(()),
        }
    }
}

/// Writes one set of fields (see the module docs).
pub struct PlainVisitor<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    /// Writes the separator and `name=` (nothing for the message); false when the field is
    /// not to be written (an earlier write failed).
    fn start(&mut self, field: &Field) -> bool {
        if self.result.is_err() {
            return false;
        }
        if self.first {
            self.first = false;
        } else if let Err(e) = self.writer.write_char(' ') {
            self.result = Err(e);
            return false;
        }
        if field.name() != "message" {
            self.result = self
                .writer
                .write_str(shown_name(field))
                .and_then(|()| self.writer.write_char('='));
        }
        self.result.is_ok()
    }
}

/// A field's name as written: without the `r#` of a raw identifier.
fn shown_name(field: &Field) -> &'static str {
    let name = field.name();
    name.strip_prefix("r#").unwrap_or(name)
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.start(field) {
            let quoted = field.name() != "message";
            self.result = write_escaped(&mut self.writer, value, quoted);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if !self.start(field) {
            return;
        }
        self.result = write_error(&mut self.writer, shown_name(field), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.start(field) {
            self.result = write!(Escaping(&mut self.writer), "{value:?}");
        }
    }
}

impl VisitOutput<fmt::Result> for PlainVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for PlainVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// An error as `DefaultFields` writes it: its message, then ` name.sources=[a, b]` when it
/// has sources; every message escaped.
fn write_error(
    writer: &mut Writer<'_>,
    name: &str,
    error: &(dyn std::error::Error + 'static),
) -> fmt::Result {
    write!(Escaping(writer), "{error}")?;
    let Some(mut source) = error.source() else {
        return Ok(());
    };
    write!(writer, " {name}.sources=[")?;
    loop {
        write!(Escaping(writer), "{source}")?;
        match source.source() {
            Some(next) => {
                writer.write_str(", ")?;
                source = next;
            }
            None => return writer.write_char(']'),
        }
    }
}

/// A writer that escapes control characters in what goes through it.
struct Escaping<'w, 'a>(&'w mut Writer<'a>);

impl fmt::Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.0, s, false)
    }
}

/// Per byte: 1 if it may need escaping anywhere (C0 controls, DEL, and 0xC2, the lead byte
/// of the C1 controls U+0080–U+009F in UTF-8), 2 if only in a quoted value (`"` and `\`).
/// A table lookup a byte: the scan of a value with nothing to escape is most of this
/// formatter's work (callgrind: ~690 instructions a request, against ~1,040 for a closure
/// making the same tests).
static MAY_ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = 1;
        b += 1;
    }
    t[0x7f] = 1;
    t[0xc2] = 1;
    t[b'"' as usize] = 2;
    t[b'\\' as usize] = 2;
    t
};

/// Writes `s`, quoted or not, with control characters escaped (`\n`, `\x1b`, `\u{85}`) and,
/// quoted, `"` and `\` backslashed. A value with nothing to escape (nearly all) is one
/// `write_str` after a scan of its bytes.
fn write_escaped(out: &mut impl fmt::Write, s: &str, quoted: bool) -> fmt::Result {
    if quoted {
        out.write_char('"')?;
    }
    let mask = if quoted { 3 } else { 1 };
    if s.bytes().any(|b| MAY_ESCAPE[usize::from(b)] & mask != 0) {
        let mut run = 0;
        for (i, c) in s.char_indices() {
            let code = u32::from(c);
            let escape = match c {
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                '"' if quoted => Some("\\\""),
                '\\' if quoted => Some("\\\\"),
                _ => None,
            };
            let control = code < 0x20 || code == 0x7f || (0x80..=0x9f).contains(&code);
            if escape.is_none() && !control {
                continue;
            }
            out.write_str(&s[run..i])?;
            run = i + c.len_utf8();
            match escape {
                Some(e) => out.write_str(e)?,
                None if code < 0x80 => write!(out, "\\x{code:02x}")?,
                None => write!(out, "\\u{{{code:x}}}")?,
            }
        }
        out.write_str(&s[run..])?;
    } else {
        out.write_str(s)?;
    }
    if quoted {
        out.write_char('"')?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The lines `f` logs at `info` through a subscriber with the field formatter `fields`.
    fn lines<N>(fields: N, f: impl FnOnce()) -> Vec<String>
    where
        N: for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static,
    {
        let buf = Buf::default();
        let out = buf.clone();
        let sub = tracing_subscriber::fmt()
            .fmt_fields(fields)
            .without_time()
            .with_target(false)
            .with_ansi(false)
            .with_writer(move || out.clone())
            .finish();
        tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    /// An error with two sources.
    #[derive(Debug)]
    struct Layered(&'static str, Option<Box<Layered>>);

    impl fmt::Display for Layered {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layered {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn fields_are_written_as_the_default_formatter_writes_them() {
        let log = || {
            let span = tracing::info_span!(
                "request",
                request_id = %"req_1",
                tenant_id = tracing::field::Empty
            );
            let _e = span.enter();
            span.record("tenant_id", tracing::field::display("ten_2"));
            let err = Layered(
                "outer",
                Some(Box::new(Layered(
                    "middle",
                    Some(Box::new(Layered("inner", None))),
                ))),
            );
            tracing::info!(
                path = "/ai/chat",
                status = 400u16,
                ok = false,
                r#type = "x",
                error = &err as &(dyn std::error::Error + 'static),
                "request failed"
            );
        };
        let got = lines(PlainFields, log);
        assert_eq!(
            got,
            lines(tracing_subscriber::fmt::format::DefaultFields::new(), log)
        );
        assert_eq!(
            got,
            [
                " INFO request{request_id=req_1 tenant_id=ten_2}: request failed \
                 path=\"/ai/chat\" status=400 ok=false type=\"x\" \
                 error=outer error.sources=[middle, inner]"
            ]
        );
    }

    #[test]
    fn control_characters_are_escaped_in_every_value() {
        let got = lines(PlainFields, || {
            let hostile = "a\nINFO forged\u{1b}[31m\u{85}\t\"q\"\\";
            tracing::info!(text = hostile, shown = %hostile, "m\r\n{}", "x\u{7f}");
        });
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            got[0],
            " INFO m\\r\\nx\\x7f \
             text=\"a\\nINFO forged\\x1b[31m\\u{85}\\t\\\"q\\\"\\\\\" \
             shown=a\\nINFO forged\\x1b[31m\\u{85}\\t\"q\"\\"
        );
    }

    #[test]
    fn each_character_to_escape_is_escaped_on_its_own() {
        // One at a time: the byte table decides whether a value is looked at character by
        // character, so a value holding only one of these must still be escaped.
        let cases = [
            ("\n", "\\n", "\\n"),
            ("\r", "\\r", "\\r"),
            ("\t", "\\t", "\\t"),
            ("\u{0}", "\\x00", "\\x00"),
            ("\u{7}", "\\x07", "\\x07"),
            ("\u{1b}", "\\x1b", "\\x1b"),
            ("\u{1f}", "\\x1f", "\\x1f"),
            ("\u{7f}", "\\x7f", "\\x7f"),
            ("\u{80}", "\\u{80}", "\\u{80}"),
            ("\u{9f}", "\\u{9f}", "\\u{9f}"),
            ("\"", "\"", "\\\""),
            ("\\", "\\", "\\\\"),
        ];
        for (c, plain, quoted) in cases {
            let text = format!("a{c}b");
            let mut out = String::new();
            write_escaped(&mut out, &text, false).unwrap();
            assert_eq!(out, format!("a{plain}b"), "{text:?} unquoted");
            let mut out = String::new();
            write_escaped(&mut out, &text, true).unwrap();
            assert_eq!(out, format!("\"a{quoted}b\""), "{text:?} quoted");
        }
    }

    #[test]
    fn escaping_keeps_text_that_needs_none_and_non_ascii_as_is() {
        let mut out = String::new();
        write_escaped(&mut out, "héllo wörld ✓ \u{a0}", true).unwrap();
        assert_eq!(out, "\"héllo wörld ✓ \u{a0}\"");
        let mut out = String::new();
        write_escaped(&mut out, "", false).unwrap();
        assert_eq!(out, "");
    }
}
