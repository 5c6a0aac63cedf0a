//! The SSE decoder on any bytes, read in any pieces: the same events as in one read, and no
//! panic. The first two bytes of the input choose where the rest is split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neureus_providers::sse::{SseDecoder, SseEvent};

fn decode<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<SseEvent> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for p in pieces {
        out.extend(d.feed(p));
    }
    out.extend(d.finish());
    out
}

fuzz_target!(|data: &[u8]| {
    let (seed, stream) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (0, data),
    };
    let whole = decode([stream]);
    // Pieces of 1 to 16 bytes, their lengths drawn from the seed; empty reads between them.
    let mut pieces = Vec::new();
    let (mut at, mut s) = (0, u32::from(seed) | 1);
    while at < stream.len() {
        s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = 1 + (s >> 16) as usize % 16;
        let end = (at + len).min(stream.len());
        pieces.push(&stream[at..end]);
        pieces.push(&[][..]);
        at = end;
    }
    assert_eq!(decode(pieces), whole, "pieces decode as the whole");
    // One byte at a time: every `\r` / `\n` pair split.
    assert_eq!(
        decode(stream.chunks(1)),
        whole,
        "bytes one by one decode as the whole"
    );
});
