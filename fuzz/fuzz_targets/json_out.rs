//! The gateway's own JSON string writer (every answer and log record goes through it), any
//! text: byte for byte what serde_json writes, and it reads back as the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neureus_types::json_out::escape_into;

fuzz_target!(|s: &str| {
    let mut out = String::from("prefix:");
    escape_into(&mut out, s);
    let written = out.strip_prefix("prefix:").expect("appended, not replaced");
    assert_eq!(written, serde_json::to_string(s).expect("a str serializes"));
    let back: String = serde_json::from_str(written).expect("reads back");
    assert_eq!(back, s);
});
