//! `x-neureus-options` (comma-separated `key=value`) and `x-neureus-debug`.

use axum::http::HeaderMap;

use crate::error::ApiError;

/// Per-request pre-processing options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// `compress=true`: condense older context with the compressor model.
    pub compress: bool,
    /// `trim=false` turns trimming off for this request.
    pub no_trim: bool,
    /// `x-neureus-debug: true`: return the pre-processing stats.
    pub debug: bool,
}

/// The keys `x-neureus-options` accepts.
pub const KNOWN: [&str; 2] = ["compress", "trim"];

fn boolean(key: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ApiError::invalid(format!(
            "x-neureus-options: {key} must be true or false, got {value:?}"
        ))),
    }
}

/// Parses the headers; an unknown key or a malformed entry is a 400 that names it.
pub fn parse(headers: &HeaderMap) -> Result<Options, ApiError> {
    let mut o = Options::default();
    if let Some(v) = headers.get(crate::headers::X_NEUREUS_DEBUG) {
        let text = v
            .to_str()
            .map_err(|_| ApiError::invalid("x-neureus-debug must be true or false"))?;
        o.debug = boolean("x-neureus-debug", text).map_err(|_| {
            ApiError::invalid(format!(
                "x-neureus-debug must be true or false, got {text:?}"
            ))
        })?;
    }
    for value in headers.get_all(crate::headers::X_NEUREUS_OPTIONS) {
        let text = value
            .to_str()
            .map_err(|_| ApiError::invalid("x-neureus-options must be ASCII"))?;
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((key, val)) = entry.split_once('=') else {
                return Err(ApiError::invalid(format!(
                    "x-neureus-options: {entry:?} is not key=value (known keys: {})",
                    KNOWN.join(", ")
                )));
            };
            match key.trim() {
                "compress" => o.compress = boolean("compress", val)?,
                "trim" => o.no_trim = !boolean("trim", val)?,
                other => {
                    return Err(ApiError::invalid(format!(
                        "x-neureus-options: unknown option {other:?} (known keys: {})",
                        KNOWN.join(", ")
                    )))
                }
            }
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn parses_and_rejects() {
        let o = parse(&headers(&[
            ("x-neureus-options", "compress=true, trim=false"),
            ("x-neureus-debug", "true"),
        ]))
        .unwrap();
        assert_eq!(
            o,
            Options {
                compress: true,
                no_trim: true,
                debug: true
            }
        );
        assert_eq!(parse(&HeaderMap::new()).unwrap(), Options::default());
        let e = parse(&headers(&[("x-neureus-options", "compress=true,turbo=1")])).unwrap_err();
        assert!(e.message.contains("\"turbo\""), "{}", e.message);
        assert!(parse(&headers(&[("x-neureus-options", "compress")])).is_err());
        assert!(parse(&headers(&[("x-neureus-options", "compress=maybe")])).is_err());
        assert!(parse(&headers(&[("x-neureus-debug", "verbose")])).is_err());
    }
}
