//! The README's quick start in Rust: run `neureus serve --demo`, then
//! `NEUREUS_API_KEY=$(cat neureus-data/demo-api-key) cargo run -p neureus-client --example quickstart`.

use std::io::Write;

use futures_util::StreamExt;
use neureus_client::{Neureus, StreamEvent};
use neureus_types::{Message, Role};

#[tokio::main]
async fn main() -> Result<(), neureus_client::Error> {
    let client = Neureus::from_env()?;
    let response = client
        .chat(
            "claude-sonnet-4-6",
            vec![Message::text(
                Role::User,
                "Summarize the GDPR in one paragraph.",
            )],
        )
        .await?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", response.content);
    let _ = writeln!(
        out,
        "tokens {} in / {} out, ${:.6}",
        response.input_tokens, response.output_tokens, response.cost_usd
    );
    let mut stream = client
        .stream(
            "gpt-4o-mini",
            vec![Message::text(Role::User, "Write a haiku.")],
        )
        .await?;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Content(token) => {
                let _ = write!(out, "{token}");
            }
            StreamEvent::Final(f) => {
                let _ = writeln!(
                    out,
                    "\n[{}: {} tokens, ${:.6}]",
                    f.log_id, f.output_tokens, f.cost_usd
                );
            }
            _ => {}
        }
    }
    client
        .set_provider_key("openai", "sk-your-openai-key", None)
        .await?;
    client
        .rotate_provider_key("openai", "sk-your-new-key", None)
        .await?;
    for p in client.list_providers().await? {
        let _ = writeln!(out, "{}: {}", p.provider, p.source);
    }
    client.delete_provider_key("openai").await?;
    Ok(())
}
