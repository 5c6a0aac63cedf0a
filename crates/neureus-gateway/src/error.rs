//! The HTTP error contract (§2): [`ErrorKind`] ↔ (status, type) in one exhaustive table, and
//! every inner error converted here. `IntoResponse` has no side effects: it puts the error in
//! the response extensions, and the request-id middleware renders the body with the id.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use neureus_providers::{ProviderError, TimeoutKind};
use neureus_store::StoreError;
use neureus_types::{ErrorBody, ErrorDetail};

/// The kinds of error the contract knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad JSON, bad field, unknown model, unknown option.
    InvalidRequest,
    /// Missing, unknown or revoked key.
    Authentication,
    /// Not allowed.
    Permission,
    /// No such thing (for this tenant).
    NotFound,
    /// The path exists, the method does not.
    MethodNotAllowed,
    /// Body over the limit.
    RequestTooLarge,
    /// Slow down.
    RateLimit,
    /// Our fault.
    Internal,
    /// The upstream answered with an error.
    Provider,
    /// No credentials for the provider, or circuit open.
    ProviderUnavailable,
    /// The upstream did not answer in time.
    Timeout,
}

impl ErrorKind {
    /// (status, contract type): the one table. No wildcard arm, so a new kind must be placed.
    pub fn parts(self) -> (StatusCode, &'static str) {
        match self {
            ErrorKind::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request_error"),
            ErrorKind::Authentication => (StatusCode::UNAUTHORIZED, "authentication_error"),
            ErrorKind::Permission => (StatusCode::FORBIDDEN, "permission_error"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found_error"),
            ErrorKind::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, "invalid_request_error")
            }
            ErrorKind::RequestTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "request_too_large"),
            ErrorKind::RateLimit => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error"),
            ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            ErrorKind::Provider => (StatusCode::BAD_GATEWAY, "provider_error"),
            ErrorKind::ProviderUnavailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable")
            }
            ErrorKind::Timeout => (StatusCode::GATEWAY_TIMEOUT, "timeout_error"),
        }
    }

    /// The contract type, also used as a metric label.
    pub fn as_str(self) -> &'static str {
        self.parts().1
    }
}

/// An error on its way to the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// Kind.
    pub kind: ErrorKind,
    /// What to fix (never a secret, never a stack trace).
    pub message: String,
    /// Seconds for `Retry-After`.
    pub retry_after: Option<u64>,
    /// For provider errors: the upstream status.
    pub upstream_status: Option<u16>,
}

impl ApiError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            retry_after: None,
            upstream_status: None,
        }
    }

    /// 400.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    /// 500, with the detail logged and not returned.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorKind::Internal, "internal error")
    }

    /// The body, with the request id.
    pub fn body(&self, request_id: Option<&str>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                kind: self.kind.as_str().to_owned(),
                message: self.message.clone(),
                request_id: request_id.map(str::to_owned),
                upstream_status: self.upstream_status,
            },
        }
    }

    /// The full response. The middleware calls this again with the request id.
    pub fn to_response(&self, request_id: Option<&str>) -> Response {
        let (status, _) = self.kind.parts();
        let mut resp = (status, axum::Json(self.body(request_id))).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        resp.extensions_mut().insert(self.clone());
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.to_response(None)
    }
}

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Upstream {
                status: 429,
                message,
                retry_after,
            } => ApiError {
                kind: ErrorKind::RateLimit,
                message: format!("the provider is rate limiting requests: {message}"),
                // The contract promises Retry-After on every 429.
                retry_after: Some(retry_after.unwrap_or(1)),
                upstream_status: Some(429),
            },
            ProviderError::Upstream {
                status, message, ..
            } => ApiError {
                kind: ErrorKind::Provider,
                message: format!("the provider answered {status}: {message}"),
                retry_after: None,
                upstream_status: Some(status),
            },
            ProviderError::Timeout(kind) => ApiError::new(
                ErrorKind::Timeout,
                format!(
                    "the provider did not answer in time ({} timeout){}",
                    kind.as_str(),
                    if kind == TimeoutKind::Connect {
                        "; could not connect"
                    } else {
                        ""
                    }
                ),
            ),
            ProviderError::Connect(_) => {
                ApiError::new(ErrorKind::Provider, "could not reach the provider")
            }
            ProviderError::StreamCut => ApiError::new(
                ErrorKind::Provider,
                "the provider's stream ended before it finished",
            ),
            ProviderError::Protocol(detail) => {
                tracing::warn!(%detail, "unreadable provider answer");
                ApiError::new(
                    ErrorKind::Provider,
                    "the provider sent an answer the gateway cannot read",
                )
            }
            ProviderError::Credentials(message) => {
                ApiError::new(ErrorKind::ProviderUnavailable, message)
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => {
                ApiError::new(ErrorKind::NotFound, format!("{what} not found"))
            }
            other => ApiError::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_match_the_contract() {
        let e = ApiError::invalid("messages must not be empty");
        let body = serde_json::to_value(e.body(Some("req_1"))).unwrap();
        insta::assert_json_snapshot!(body, @r#"
        {
          "error": {
            "message": "messages must not be empty",
            "requestId": "req_1",
            "type": "invalid_request_error"
          }
        }
        "#);
        let e: ApiError = ProviderError::Upstream {
            status: 529,
            message: "Overloaded".into(),
            retry_after: None,
        }
        .into();
        assert_eq!(e.kind.parts().0, StatusCode::BAD_GATEWAY);
        assert_eq!(e.upstream_status, Some(529));
        let e: ApiError = ProviderError::Upstream {
            status: 429,
            message: "slow".into(),
            retry_after: None,
        }
        .into();
        assert_eq!((e.kind, e.retry_after), (ErrorKind::RateLimit, Some(1)));
        let e: ApiError = ProviderError::Timeout(TimeoutKind::Idle).into();
        assert_eq!(e.kind.parts().0, StatusCode::GATEWAY_TIMEOUT);
    }
}
