//! OpenAI Chat Completions adapter: `POST {base}/chat/completions`, `Authorization: Bearer`.

mod stream;
mod translate;
pub(crate) mod wire;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use http::header::AUTHORIZATION;
use http::HeaderName;
use neureus_types::{ChatRequest, ChatResponse, ProviderId};

pub(crate) use stream::chunk_events;
pub use stream::OpenaiStream;
pub(crate) use translate::{
    arguments_text, error_message, from_wire, tool_choice, user_of, wire_messages,
};

use crate::{Credentials, EventStream, HttpClient, Provider, ProviderError, UpstreamModel};

/// The upstream request body for `req` (what `chat` and `chat_stream` send).
pub fn request_body(
    req: &ChatRequest,
    model: &UpstreamModel,
    stream: bool,
) -> Result<Vec<u8>, ProviderError> {
    body_bytes(&translate::to_wire(req, model, stream))
}

/// The OpenAI provider.
#[derive(Debug, Clone)]
pub struct OpenaiProvider {
    url: crate::http::Url,
    http: HttpClient,
}

impl OpenaiProvider {
    /// `base_url` is used exactly as given: requests go to `{base_url}/chat/completions`.
    /// Fails when the URL does not parse.
    pub fn new(base_url: &str, http: HttpClient) -> Result<Self, ProviderError> {
        Ok(OpenaiProvider {
            url: HttpClient::parse_url(&format!(
                "{}/chat/completions",
                base_url.trim_end_matches('/')
            ))?,
            http,
        })
    }

    fn headers(creds: &Credentials) -> [(HeaderName, String); 1] {
        let key = creds.api_key.expose();
        let mut value = String::with_capacity(7 + key.len());
        value.push_str("Bearer ");
        value.push_str(key);
        [(AUTHORIZATION, value)]
    }
}

/// Serialises a request body.
pub(crate) fn body_bytes<T: serde::Serialize>(body: &T) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(body)
        .map_err(|e| ProviderError::Protocol(format!("cannot encode request: {e}")))
}

#[async_trait]
impl Provider for OpenaiProvider {
    fn id(&self) -> ProviderId {
        ProviderId::Openai
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
        from_wire(crate::http::parse_json("OpenAI response", &bytes)?)
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
            .event_stream(resp, started, OpenaiStream::new())
            .await
    }
}
