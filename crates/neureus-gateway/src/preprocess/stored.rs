//! The pre-processing report as a log record stores it, and back.
//!
//! Every request's record carries its report. As the API shows it (field names, four passes)
//! it is ~520 bytes, three quarters of a typical record: each record then wrote twice the
//! pages to the WAL (and again at checkpoint) and the log database grew by that much per
//! request. The stored form is positional, ~150 bytes for the same report:
//!
//! `[1, [pass, …], totals]`, where a pass is
//! `[name, changed, messagesBefore, messagesAfter, durationUs, note, tokensBefore, tokensAfter, compressor]`
//! with `changed` as 0/1, `compressor` as `[model, inputTokens, outputTokens, costUsd]`, and
//! trailing absent fields left out; totals are
//! `[changed, messagesBefore, messagesAfter, durationUs, costUsd, tokensBefore, tokensAfter]`,
//! likewise. The leading 1 is the format's version. [`expand`] turns it back into exactly
//! what serializing the [`Report`] gives; records written before this form (objects) pass
//! through unchanged.

use neureus_types::json_out::JsonOut;
use serde_json::{json, Map, Value};

use super::{PassStats, Report, Totals};

const VERSION: u64 = 1;

/// The stored form of `report`. Written by [`JsonOut`], not `serde_json`: every request's
/// record carries one, and this took ~2.8k instructions a request through `serde_json`
/// (callgrind). A test compares it with a `Serialize` of the same form.
pub fn encode(report: &Report) -> String {
    let mut o = JsonOut::with_capacity(192);
    o.raw("[");
    o.u64(VERSION);
    o.raw(",[");
    for (i, p) in report.passes.iter().enumerate() {
        if i > 0 {
            o.raw(",");
        }
        encode_pass(&mut o, p);
    }
    o.raw("],");
    encode_totals(&mut o, &report.totals);
    o.raw("]");
    o.into_string()
}

/// The API's form of a stored report (either form).
pub fn expand(stored: Value) -> Value {
    match &stored {
        Value::Array(parts) if parts.first().and_then(Value::as_u64) == Some(VERSION) => {
            expand_v1(parts).unwrap_or(stored)
        }
        _ => stored,
    }
}

/// How many of the trailing optional fields are written: up to the last one present.
fn written(present: &[bool]) -> usize {
    present.iter().rposition(|&p| p).map_or(0, |i| i + 1)
}

fn encode_pass(o: &mut JsonOut, p: &PassStats) {
    let optional = written(&[
        p.note.is_some(),
        p.tokens_before.is_some(),
        p.tokens_after.is_some(),
        p.compressor.is_some(),
    ]);
    o.raw("[");
    o.str(p.name);
    o.raw(",");
    encode_counts(
        o,
        p.changed,
        p.messages_before,
        p.messages_after,
        p.duration_us,
    );
    if optional > 0 {
        o.raw(",");
        o.opt_str(p.note.as_deref());
    }
    encode_tokens(
        o,
        optional.saturating_sub(1),
        p.tokens_before,
        p.tokens_after,
    );
    if optional > 3 {
        o.raw(",");
        match &p.compressor {
            Some(c) => {
                o.raw("[");
                o.str(c.model);
                o.raw(",");
                o.u64(c.input_tokens);
                o.raw(",");
                o.u64(c.output_tokens);
                o.raw(",");
                o.f64(c.cost_usd);
                o.raw("]");
            }
            None => o.raw("null"),
        }
    }
    o.raw("]");
}

fn encode_totals(o: &mut JsonOut, t: &Totals) {
    let optional = written(&[t.tokens_before.is_some(), t.tokens_after.is_some()]);
    o.raw("[");
    encode_counts(
        o,
        t.changed,
        t.messages_before,
        t.messages_after,
        t.duration_us,
    );
    o.raw(",");
    o.f64(t.cost_usd);
    encode_tokens(o, optional, t.tokens_before, t.tokens_after);
    o.raw("]");
}

/// `changed,messagesBefore,messagesAfter,durationUs`, as a pass and the totals store them.
fn encode_counts(o: &mut JsonOut, changed: bool, before: usize, after: usize, us: u64) {
    o.raw(if changed { "1," } else { "0," });
    o.usize(before);
    o.raw(",");
    o.usize(after);
    o.raw(",");
    o.u64(us);
}

/// `,tokensBefore,tokensAfter`, the first `n` of them (trailing absent ones left out).
fn encode_tokens(o: &mut JsonOut, n: usize, before: Option<u64>, after: Option<u64>) {
    if n > 0 {
        o.raw(",");
        o.opt_u64(before);
    }
    if n > 1 {
        o.raw(",");
        o.opt_u64(after);
    }
}

/// Field `i` of a stored array, when present and not null.
fn field(a: &[Value], i: usize) -> Option<&Value> {
    a.get(i).filter(|v| !v.is_null())
}

fn flag(v: &Value) -> Option<bool> {
    v.as_u64().map(|n| n != 0)
}

/// Puts the optional fields (absent or null in the stored form: left out, as `Report`'s
/// serialization skips `None`).
fn put(obj: &mut Map<String, Value>, key: &str, v: Option<&Value>) {
    if let Some(v) = v {
        obj.insert(key.to_owned(), v.clone());
    }
}

fn expand_v1(parts: &[Value]) -> Option<Value> {
    let passes = parts.get(1)?.as_array()?;
    let totals = parts.get(2)?.as_array()?;
    let mut out = Vec::with_capacity(passes.len());
    for p in passes {
        let p = p.as_array()?;
        let mut obj = Map::new();
        obj.insert("name".into(), field(p, 0)?.clone());
        obj.insert("changed".into(), Value::Bool(flag(field(p, 1)?)?));
        put(&mut obj, "tokensBefore", field(p, 6));
        put(&mut obj, "tokensAfter", field(p, 7));
        obj.insert("messagesBefore".into(), field(p, 2)?.clone());
        obj.insert("messagesAfter".into(), field(p, 3)?.clone());
        obj.insert("durationUs".into(), field(p, 4)?.clone());
        put(&mut obj, "note", field(p, 5));
        if let Some(c) = field(p, 8) {
            let c = c.as_array()?;
            obj.insert(
                "compressor".into(),
                json!({
                    "model": field(c, 0)?,
                    "inputTokens": field(c, 1)?,
                    "outputTokens": field(c, 2)?,
                    "costUsd": field(c, 3)?,
                }),
            );
        }
        out.push(Value::Object(obj));
    }
    let mut t = Map::new();
    t.insert("changed".into(), Value::Bool(flag(field(totals, 0)?)?));
    put(&mut t, "tokensBefore", field(totals, 5));
    put(&mut t, "tokensAfter", field(totals, 6));
    t.insert("messagesBefore".into(), field(totals, 1)?.clone());
    t.insert("messagesAfter".into(), field(totals, 2)?.clone());
    t.insert("durationUs".into(), field(totals, 3)?.clone());
    t.insert("costUsd".into(), field(totals, 4)?.clone());
    Some(json!({ "passes": out, "totals": t }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{totals, CompressorStats};
    use proptest::prelude::*;
    use serde::ser::{SerializeSeq, Serializer};
    use serde::Serialize;

    /// The stored form through `serde_json`, which [`encode`] must match byte for byte.
    fn encode_with_serde(report: &Report) -> String {
        let passes: Vec<StoredPass<'_>> = report.passes.iter().map(StoredPass).collect();
        serde_json::to_string(&(VERSION, passes, StoredTotals(&report.totals))).unwrap()
    }

    struct StoredPass<'a>(&'a PassStats);

    impl Serialize for StoredPass<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let p = self.0;
            let optional = written(&[
                p.note.is_some(),
                p.tokens_before.is_some(),
                p.tokens_after.is_some(),
                p.compressor.is_some(),
            ]);
            let mut seq = s.serialize_seq(Some(5 + optional))?;
            seq.serialize_element(p.name)?;
            seq.serialize_element(&u8::from(p.changed))?;
            seq.serialize_element(&p.messages_before)?;
            seq.serialize_element(&p.messages_after)?;
            seq.serialize_element(&p.duration_us)?;
            if optional > 0 {
                seq.serialize_element(&p.note)?;
            }
            if optional > 1 {
                seq.serialize_element(&p.tokens_before)?;
            }
            if optional > 2 {
                seq.serialize_element(&p.tokens_after)?;
            }
            if optional > 3 {
                let c = p.compressor.as_ref();
                seq.serialize_element(
                    &c.map(|c| (c.model, c.input_tokens, c.output_tokens, c.cost_usd)),
                )?;
            }
            seq.end()
        }
    }

    struct StoredTotals<'a>(&'a Totals);

    impl Serialize for StoredTotals<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let t = self.0;
            let optional = written(&[t.tokens_before.is_some(), t.tokens_after.is_some()]);
            let mut seq = s.serialize_seq(Some(5 + optional))?;
            seq.serialize_element(&u8::from(t.changed))?;
            seq.serialize_element(&t.messages_before)?;
            seq.serialize_element(&t.messages_after)?;
            seq.serialize_element(&t.duration_us)?;
            seq.serialize_element(&t.cost_usd)?;
            if optional > 0 {
                seq.serialize_element(&t.tokens_before)?;
            }
            if optional > 1 {
                seq.serialize_element(&t.tokens_after)?;
            }
            seq.end()
        }
    }

    fn pass(name: &'static str) -> PassStats {
        PassStats {
            name,
            changed: false,
            tokens_before: None,
            tokens_after: None,
            messages_before: 1,
            messages_after: 1,
            duration_us: 0,
            note: None,
            compressor: None,
        }
    }

    fn report(passes: Vec<PassStats>) -> Report {
        let totals = totals(&passes);
        Report { passes, totals }
    }

    /// What the logs API showed for a record storing the report's API form: that text,
    /// parsed (serde_json's default float parsing may differ from the value in the last
    /// digit; both forms go through it).
    fn api_form(r: &Report) -> Value {
        serde_json::from_str(&serde_json::to_string(r).unwrap()).unwrap()
    }

    fn round_trip(r: &Report) -> Value {
        expand(serde_json::from_str(&encode(r)).unwrap())
    }

    #[test]
    fn a_typical_report_is_a_third_of_its_api_form_and_expands_to_it() {
        let mut trim = pass("trim");
        trim.note = Some("under the threshold of 6000 tokens".into());
        let mut compress = pass("compress");
        compress.note = Some("not requested".into());
        let r = report(vec![pass("normalize"), pass("structure"), trim, compress]);
        let stored = encode(&r);
        let api = serde_json::to_string(&r).unwrap();
        assert!(stored.len() * 3 <= api.len(), "{stored} vs {api}");
        assert_eq!(round_trip(&r), api_form(&r));
    }

    #[test]
    fn debug_tokens_notes_and_the_compressor_survive() {
        let mut normalize = pass("normalize");
        normalize.changed = true;
        normalize.tokens_before = Some(120);
        normalize.tokens_after = Some(100);
        let mut compress = pass("compress");
        compress.changed = true;
        compress.messages_before = 9;
        compress.messages_after = 3;
        compress.note = Some("quote \" and ünïcode".into());
        compress.compressor = Some(CompressorStats {
            model: "meta/llama-3.1-8b",
            input_tokens: 800,
            output_tokens: 90,
            cost_usd: 0.000_012_5,
        });
        let r = report(vec![normalize, compress]);
        assert_eq!(round_trip(&r), api_form(&r));
        assert_eq!(round_trip(&r)["totals"]["costUsd"], json!(0.000_012_5));
    }

    #[test]
    fn records_in_the_api_form_pass_through() {
        let old = json!({"passes": [], "totals": {"changed": false}});
        assert_eq!(expand(old.clone()), old);
        let other = json!([2, [], []]);
        assert_eq!(expand(other.clone()), other);
        let broken = json!([1, [["trim"]], [0, 1, 1, 0, 0]]);
        assert_eq!(expand(broken.clone()), broken);
    }

    fn arb_pass() -> impl Strategy<Value = PassStats> {
        (
            prop::sample::select(vec!["normalize", "structure", "trim", "compress"]),
            any::<bool>(),
            prop::option::of(0u64..1_000_000),
            prop::option::of(0u64..1_000_000),
            (0usize..500, 0usize..500, 0u64..10_000_000),
            prop::option::of(".{0,40}"),
            prop::option::of((0u64..100_000, 0u64..10_000, 0.0f64..1.0)),
        )
            .prop_map(
                |(name, changed, tb, ta, (mb, ma, us), note, comp)| PassStats {
                    name,
                    changed,
                    tokens_before: tb,
                    tokens_after: ta,
                    messages_before: mb,
                    messages_after: ma,
                    duration_us: us,
                    note,
                    compressor: comp.map(|(i, o, c)| CompressorStats {
                        model: "meta/llama-3.1-8b",
                        input_tokens: i,
                        output_tokens: o,
                        cost_usd: c,
                    }),
                },
            )
    }

    proptest! {
        #[test]
        fn any_report_expands_to_its_api_form(passes in prop::collection::vec(arb_pass(), 0..6)) {
            let r = report(passes);
            prop_assert_eq!(round_trip(&r), api_form(&r));
        }

        #[test]
        fn any_report_is_stored_as_its_serialize_writes_it(passes in prop::collection::vec(arb_pass(), 0..6)) {
            let r = report(passes);
            prop_assert_eq!(encode(&r), encode_with_serde(&r));
        }
    }
}
