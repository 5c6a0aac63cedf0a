//! JSON written by hand for the few bodies every request builds, byte for byte what
//! `serde_json` writes for them.
//!
//! Written by hand because it is faster, measured: `serde_json` escapes a string one byte
//! at a time through a table (~5 instructions a byte) and writes each key through the same
//! path at run time, three writer calls a string. The `/ai/chat` answer and the log
//! record's pre-processing report spent ~5k instructions a request there (callgrind, stop
//! 15). Here keys known when compiling are written as they are, and strings are scanned
//! eight bytes at a time for the only bytes JSON must escape. Anything else (nested
//! structures that are rare on the hot path) goes through `serde_json` itself.
//!
//! The output is compact JSON, as `serde_json::to_string` writes it; tests compare the two.

use serde::Serialize;

/// A JSON text being written.
#[derive(Debug, Default)]
pub struct JsonOut {
    buf: String,
}

impl JsonOut {
    /// An empty text with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        JsonOut {
            buf: String::with_capacity(capacity),
        }
    }

    /// Appends `s` as it is: punctuation, or keys known to need no escaping (`"key":`).
    #[inline]
    pub fn raw(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// Appends `s` as a JSON string, escaped as `serde_json` escapes it.
    pub fn str(&mut self, s: &str) {
        escape_into(&mut self.buf, s);
    }

    /// Appends `s` as a string, or `null`.
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.raw("null"),
        }
    }

    /// Appends an integer.
    #[inline]
    pub fn u64(&mut self, n: u64) {
        // One digit (most counts a request writes) without the formatting buffer.
        match u8::try_from(n) {
            Ok(d @ 0..=9) => self.buf.push(char::from(b'0' + d)),
            _ => self.buf.push_str(itoa::Buffer::new().format(n)),
        }
    }

    /// Appends a count.
    #[inline]
    pub fn usize(&mut self, n: usize) {
        self.u64(u64::try_from(n).unwrap_or(u64::MAX));
    }

    /// Appends an integer, or `null`.
    pub fn opt_u64(&mut self, n: Option<u64>) {
        match n {
            Some(n) => self.u64(n),
            None => self.raw("null"),
        }
    }

    /// Appends a number as `serde_json` writes an `f64`: shortest round-trip digits,
    /// `null` when not finite.
    pub fn f64(&mut self, x: f64) {
        if x.is_finite() {
            self.buf.push_str(zmij::Buffer::new().format_finite(x));
        } else {
            self.raw("null");
        }
    }

    /// Appends `true` or `false`.
    pub fn bool(&mut self, b: bool) {
        self.raw(if b { "true" } else { "false" });
    }

    /// Appends any value through `serde_json` (for the parts that are rarely there).
    pub fn serde<T: Serialize + ?Sized>(&mut self, v: &T) -> serde_json::Result<()> {
        self.buf.push_str(&serde_json::to_string(v)?);
        Ok(())
    }

    /// The text.
    pub fn into_string(self) -> String {
        self.buf
    }
}

/// What a byte becomes in a JSON string, as `serde_json` writes it: 0 for itself.
const fn escape_of(b: u8) -> u8 {
    match b {
        0x08 => b'b',
        0x09 => b't',
        0x0A => b'n',
        0x0C => b'f',
        0x0D => b'r',
        b'"' => b'"',
        b'\\' => b'\\',
        0x00..=0x1F => b'u',
        _ => 0,
    }
}

const ESCAPE: [u8; 256] = {
    let mut t = [0_u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = escape_of(i as u8);
        i += 1;
    }
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes in `v` is a control character, `"` or `\`. Exact for the
/// word as a whole (the classic "has zero byte" and "has byte less than" tests): bytes of
/// 0x80 and above (UTF-8 beyond ASCII) are never flagged.
fn needs_escape(v: u64) -> bool {
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let control = v.wrapping_sub(ONES * 0x20) & !v & HIGHS;
    (control | zero_in(v ^ (ONES * u64::from(b'"'))) | zero_in(v ^ (ONES * u64::from(b'\\')))) != 0
}

/// Appends `s` to `out` as a quoted JSON string.
pub fn escape_into(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    // `run` is where the bytes not yet appended start; `i` where the scan is.
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..i + 8) {
            let mut w = [0_u8; 8];
            w.copy_from_slice(word);
            if !needs_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        // A word with something to escape, or the last few bytes: one at a time, up to
        // the end of this word.
        let end = (i + 8).min(bytes.len());
        while i < end {
            let b = bytes[i];
            let e = ESCAPE[usize::from(b)];
            if e != 0 {
                // Escaped bytes are ASCII, so `run..i` and `i + 1..` are on char boundaries.
                out.push_str(&s[run..i]);
                push_escape(out, b, e);
                run = i + 1;
            }
            i += 1;
        }
    }
    out.push_str(&s[run..]);
    out.push('"');
}

fn push_escape(out: &mut String, byte: u8, e: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('\\');
    if e == b'u' {
        out.push_str("u00");
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xF)]));
    } else {
        out.push(char::from(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        escape_into(&mut out, s);
        out
    }

    #[test]
    fn every_single_byte_and_char_is_escaped_as_serde_json_does() {
        for c in (0..=0x7F_u8)
            .map(char::from)
            .chain(['é', '€', '😀', '\u{7f}', '\u{2028}'])
        {
            for s in [
                c.to_string(),
                format!("abcdefg{c}"),
                format!("abcdefgh{c}ijklmnopq"),
                format!("{c}{c}{c}{c}{c}{c}{c}{c}{c}"),
            ] {
                assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap(), "{s:?}");
            }
        }
        assert_eq!(escaped(""), "\"\"");
        assert_eq!(escaped("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
    }

    #[test]
    fn the_word_test_flags_exactly_the_words_holding_an_escaped_byte() {
        // Each byte value at each position of an otherwise plain word.
        for b in 0..=255_u8 {
            for pos in 0..8 {
                let mut w = *b"abcdefgh";
                w[pos] = b;
                assert_eq!(
                    needs_escape(u64::from_le_bytes(w)),
                    ESCAPE[usize::from(b)] != 0,
                    "byte {b:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn numbers_and_literals_are_written_as_serde_json_writes_them() {
        for x in [
            0.0,
            -0.0,
            1.0,
            0.1,
            1e-10,
            0.000_123_4,
            123_456_789.125,
            1e21,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let mut o = JsonOut::default();
            o.f64(x);
            assert_eq!(o.into_string(), serde_json::to_string(&x).unwrap(), "{x}");
        }
        for n in [0, 9, 10, 255, 256, usize::MAX] {
            let mut o = JsonOut::default();
            o.usize(n);
            assert_eq!(o.into_string(), serde_json::to_string(&n).unwrap());
        }
        for n in [0, 7, 9, 10, 99, 255, 256, 1_000_000, u64::MAX] {
            let mut o = JsonOut::default();
            o.u64(n);
            o.raw(",");
            o.opt_u64(Some(n));
            o.raw(",");
            o.opt_u64(None);
            o.raw(",");
            o.bool(n % 2 == 0);
            let want = format!(
                "{},{},null,{}",
                serde_json::to_string(&n).unwrap(),
                n,
                n % 2 == 0
            );
            assert_eq!(o.into_string(), want);
        }
        let mut o = JsonOut::with_capacity(4);
        o.opt_str(None);
        o.raw(",");
        o.opt_str(Some("x\ty"));
        o.raw(",");
        o.serde(&serde_json::json!({"a": [1, "b"]})).unwrap();
        assert_eq!(o.into_string(), r#"null,"x\ty",{"a":[1,"b"]}"#);
    }

    proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_does(s in any::<String>()) {
            prop_assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn strings_of_json_specials_are_escaped_as_serde_json_does(
            s in proptest::collection::vec(
                prop_oneof![Just('"'), Just('\\'), Just('\n'), Just('\u{1f}'), Just('a'), Just('é'), Just('😀'), any::<char>()],
                0..40,
            ).prop_map(|v| v.into_iter().collect::<String>())
        ) {
            prop_assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap());
        }

        #[test]
        fn any_f64_is_written_as_serde_json_writes_it(x in any::<f64>()) {
            let mut o = JsonOut::default();
            o.f64(x);
            prop_assert_eq!(o.into_string(), serde_json::to_string(&x).unwrap());
        }
    }
}
