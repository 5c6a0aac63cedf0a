//! Load-benchmark helpers (see `bench/run.py`): `fastmock`, a pre-rendered OpenAI-format
//! upstream fast enough not to be the bottleneck; `bareproxy`, a forwarding hop with no
//! logic (the physical limit of one proxy hop here); `streamload`, a client that holds
//! many concurrent streams and measures time to first byte, gaps between chunks and stalls.

use std::net::SocketAddr;

/// Parses `--name value` from the arguments.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Parses a numeric `--name value`, or the default.
pub fn num(name: &str, default: u64) -> u64 {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Binds a loopback listener on `--port` (0 = any) and prints its address.
pub async fn listen() -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let port = num("--port", 0);
    let l = tokio::net::TcpListener::bind(("127.0.0.1", u16::try_from(port).unwrap_or(0))).await?;
    let addr = l.local_addr()?;
    eprintln!("listening on http://{addr}");
    Ok((l, addr))
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
