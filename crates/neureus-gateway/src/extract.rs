//! Our JSON body extractor: any content type, our error shape, a message that names the
//! field at fault (`messages[0].role: unknown variant …`), and 413 over the body limit.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;

/// A JSON request body.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Reads a request body within the configured limit (413 over it).
pub async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    {
        Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorKind::RequestTooLarge,
                    format!(
                        "request body is larger than the limit of {} bytes",
                        state.config.max_body_bytes
                    ),
                )
            } else {
                ApiError::invalid(format!("cannot read the request body: {rej}"))
            }
        })
    }
}

/// Parses a JSON body with a precise message on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(
            "request body is empty: send a JSON object",
        ));
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("request body must be a JSON object"));
    }
    // The common case, a valid body, parses without path tracking (~1% of a request's CPU);
    // only a failed parse runs again with it, to name the field at fault.
    if let Ok(value) = neureus_types::from_json_bytes(bytes) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::invalid(format!("request body is not valid JSON: {inner}"))
            }
            _ if path == "." || path.is_empty() => {
                ApiError::invalid(format!("invalid request: {inner}"))
            }
            _ => ApiError::invalid(format!("{path}: {inner}")),
        }
    })?;
    de.end()
        .map_err(|e| ApiError::invalid(format!("request body is not valid JSON: {e}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Body {
        model: String,
        n: Option<u32>,
    }

    #[test]
    fn valid_bodies_parse_and_bad_ones_say_why() {
        let ok: Body = parse_json(r#" {"model":"gpt-4o \u00e9 é","n":2}"#.as_bytes()).unwrap();
        assert_eq!(ok.model, "gpt-4o \u{e9} é");
        assert_eq!(ok.n, Some(2));
        // Invalid UTF-8 inside a string: a syntax error with its position, not a panic or
        // a field error.
        let err = parse_json::<Body>(b"{\"model\":\"a\xff\"}").unwrap_err();
        assert!(
            err.message.starts_with("request body is not valid JSON:"),
            "{}",
            err.message
        );
        let err = parse_json::<Body>(br#"{"model":"m","n":"two"}"#).unwrap_err();
        assert!(
            err.message.starts_with("n: invalid type"),
            "{}",
            err.message
        );
        let err = parse_json::<Body>(br#"{"model":"m","n":1"#).unwrap_err();
        assert!(
            err.message.starts_with("request body is not valid JSON:"),
            "{}",
            err.message
        );
    }
}
