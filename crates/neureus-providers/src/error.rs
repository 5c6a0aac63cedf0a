//! `ProviderError`: everything that can go wrong talking to an upstream.

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    /// Establishing the connection.
    Connect,
    /// Waiting for the response headers and the first event.
    FirstByte,
    /// Waiting between two chunks of a stream.
    Idle,
    /// The whole call.
    Total,
}

impl TimeoutKind {
    /// Lowercase name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::FirstByte => "first byte",
            TimeoutKind::Idle => "idle between chunks",
            TimeoutKind::Total => "total",
        }
    }
}

/// An upstream call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The upstream answered with an error status (or an in-stream error event).
    #[error("upstream answered {status}: {message}")]
    Upstream {
        /// HTTP status (for in-stream errors: the status the error type implies).
        status: u16,
        /// The upstream's error message.
        message: String,
        /// Seconds the upstream asked us to wait.
        retry_after: Option<u64>,
    },
    /// The upstream could not be reached.
    #[error("could not reach the provider: {0}")]
    Connect(String),
    /// A timeout fired.
    #[error("the provider did not answer in time ({} timeout)", .0.as_str())]
    Timeout(TimeoutKind),
    /// The upstream answered something we cannot read.
    #[error("unreadable answer from the provider: {0}")]
    Protocol(String),
    /// The stream ended before the provider's end marker.
    #[error("the provider's stream ended before it finished")]
    StreamCut,
    /// The credentials are not usable for this provider.
    #[error("{0}")]
    Credentials(String),
}
