//! Cloudflare Workers AI adapter, native endpoint:
//! `POST {base}/accounts/{account_id}/ai/run/{model}`, `Authorization: Bearer`.

mod stream;
mod translate;
mod wire;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use http::header::AUTHORIZATION;
use http::HeaderName;
use neureus_types::{ChatRequest, ChatResponse, ProviderId};

pub use stream::WorkersStream;
use translate::error_message;

use crate::openai::body_bytes;
use crate::{
    Credentials, EventStream, HttpClient, Provider, ProviderError, ReasoningStyle, UpstreamModel,
};

/// The upstream request body for `req` (what `chat` and `chat_stream` send).
pub fn request_body(
    req: &ChatRequest,
    model: &UpstreamModel,
    stream: bool,
) -> Result<Vec<u8>, ProviderError> {
    body_bytes(&translate::to_wire(req, model, stream))
}

/// The Workers AI provider.
#[derive(Debug, Clone)]
pub struct WorkersAiProvider {
    base: String,
    http: HttpClient,
}

impl WorkersAiProvider {
    /// `base_url` is used exactly as given:
    /// requests go to `{base_url}/accounts/{id}/ai/run/{model}`.
    pub fn new(base_url: &str, http: HttpClient) -> Self {
        WorkersAiProvider {
            base: base_url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    fn url(
        &self,
        model: &UpstreamModel,
        creds: &Credentials,
    ) -> Result<crate::http::Url, ProviderError> {
        let Some(account) = creds.account_id.as_deref().filter(|a| !a.is_empty()) else {
            return Err(ProviderError::Credentials(
                "Workers AI needs an account id (NEUREUS_WORKERS_AI_ACCOUNT_ID)".into(),
            ));
        };
        HttpClient::parse_url(&format!(
            "{}/accounts/{account}/ai/run/{}",
            self.base, model.id
        ))
    }

    fn headers(creds: &Credentials) -> [(HeaderName, String); 1] {
        [(AUTHORIZATION, format!("Bearer {}", creds.api_key.expose()))]
    }
}

#[async_trait]
impl Provider for WorkersAiProvider {
    fn id(&self) -> ProviderId {
        ProviderId::WorkersAi
    }

    async fn chat(
        &self,
        req: &ChatRequest,
        model: &UpstreamModel,
        creds: &Credentials,
    ) -> Result<ChatResponse, ProviderError> {
        let wire = translate::to_wire(req, model, false);
        let max_tokens = wire.max_tokens;
        let body = body_bytes(&wire)?;
        let url = self.url(model, creds)?;
        let (resp, started) = self
            .http
            .post(&url, &Self::headers(creds), body, error_message)
            .await?;
        let bytes = self.http.read_body(resp, started).await?;
        translate::from_wire(
            crate::http::parse_json("Workers AI response", &bytes)?,
            model,
            max_tokens,
        )
    }

    async fn chat_stream(
        &self,
        req: &ChatRequest,
        model: &UpstreamModel,
        creds: &Credentials,
    ) -> Result<EventStream, ProviderError> {
        let wire = translate::to_wire(req, model, true);
        let machine = WorkersStream::new(
            model.reasoning == ReasoningStyle::InlineThink,
            wire.max_tokens,
        );
        let body = body_bytes(&wire)?;
        let url = self.url(model, creds)?;
        let (resp, started) = self
            .http
            .post(&url, &Self::headers(creds), body, error_message)
            .await?;
        self.http.event_stream(resp, started, machine).await
    }
}
