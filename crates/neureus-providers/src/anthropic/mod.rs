//! Anthropic Messages adapter: `POST {base}/v1/messages`, `x-api-key` + `anthropic-version`.

mod stream;
mod translate;
mod wire;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use http::HeaderName;
use neureus_types::{ChatRequest, ChatResponse, ProviderId};

pub use stream::AnthropicStream;
use translate::error_message;

use crate::openai::body_bytes;
use crate::{Credentials, EventStream, HttpClient, Provider, ProviderError, UpstreamModel};

/// The upstream request body for `req` (what `chat` and `chat_stream` send).
pub fn request_body(
    req: &ChatRequest,
    model: &UpstreamModel,
    stream: bool,
) -> Result<Vec<u8>, ProviderError> {
    body_bytes(&translate::to_wire(req, model, stream))
}

/// The only API version the official SDKs send.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

// Header names as constants: `HeaderName::from_static` called in a function checks the
// name on every call; in a `const` it is checked once, when compiling.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const ANTHROPIC_VERSION_HEADER: HeaderName = HeaderName::from_static("anthropic-version");

/// The Anthropic provider.
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    url: crate::http::Url,
    http: HttpClient,
}

impl AnthropicProvider {
    /// `base_url` is used exactly as given: requests go to `{base_url}/v1/messages`.
    /// Fails when the URL does not parse.
    pub fn new(base_url: &str, http: HttpClient) -> Result<Self, ProviderError> {
        Ok(AnthropicProvider {
            url: HttpClient::parse_url(&format!("{}/v1/messages", base_url.trim_end_matches('/')))?,
            http,
        })
    }

    fn headers(creds: &Credentials) -> [(HeaderName, String); 2] {
        [
            (X_API_KEY, creds.api_key.expose().to_owned()),
            (ANTHROPIC_VERSION_HEADER, ANTHROPIC_VERSION.to_owned()),
        ]
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn id(&self) -> ProviderId {
        ProviderId::Anthropic
    }

    async fn chat(
        &self,
        req: &ChatRequest,
        model: &UpstreamModel,
        creds: &Credentials,
    ) -> Result<ChatResponse, ProviderError> {
        let body = request_body(req, model, false)?;
        let (resp, started) = self
            .http
            .post(&self.url, &Self::headers(creds), body, error_message)
            .await?;
        let bytes = self.http.read_body(resp, started).await?;
        Ok(translate::from_wire(crate::http::parse_json(
            "Anthropic response",
            &bytes,
        )?))
    }

    async fn chat_stream(
        &self,
        req: &ChatRequest,
        model: &UpstreamModel,
        creds: &Credentials,
    ) -> Result<EventStream, ProviderError> {
        let body = request_body(req, model, true)?;
        let (resp, started) = self
            .http
            .post(&self.url, &Self::headers(creds), body, error_message)
            .await?;
        self.http
            .event_stream(resp, started, AnthropicStream::new())
            .await
    }
}
