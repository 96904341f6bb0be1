//! `klaxon probe [PATH]`: asks the running Klaxon's own HTTP listener (`KLAXON_HTTP_ADDR`) for
//! `/readyz` (or another path) and succeeds on a 2xx answer: the health check of a container
//! image that holds the binary only (no shell, no curl).

use std::time::Duration;

use anyhow::Context as _;

/// How long the probe waits for an answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The URL of `path` on the listener `addr` (`0.0.0.0:3000` is asked on loopback).
pub(super) fn url(addr: &str, path: &str) -> anyhow::Result<String> {
    let addr: std::net::SocketAddr = addr
        .trim()
        .parse()
        .with_context(|| format!("KLAXON_HTTP_ADDR: `{addr}` is not an address and port"))?;
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    anyhow::ensure!(
        path.starts_with('/'),
        "the path must start with `/`: {path}"
    );
    Ok(format!("http://{host}:{}{path}", addr.port()))
}

/// GET `path`; `Ok` with the answer's first line when it is 2xx.
pub(super) async fn probe(path: &str) -> anyhow::Result<String> {
    let addr = std::env::var("KLAXON_HTTP_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let url = url(&addr, path)?;
    let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    let answer = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("no answer from {url}"))?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    let first = text.lines().next().unwrap_or("").to_owned();
    anyhow::ensure!(status.is_success(), "{url}: {status}: {first}");
    Ok(format!("{url}: {first}"))
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn the_listener_is_asked_on_loopback_when_it_listens_everywhere() {
        assert_eq!(
            url("0.0.0.0:3000", "/readyz").ok().as_deref(),
            Some("http://127.0.0.1:3000/readyz")
        );
        assert_eq!(
            url("[::]:8080", "/healthz").ok().as_deref(),
            Some("http://[::1]:8080/healthz")
        );
        assert_eq!(
            url("10.0.0.5:3000", "/readyz").ok().as_deref(),
            Some("http://10.0.0.5:3000/readyz")
        );
        assert!(url("localhost:3000", "/readyz").is_err());
        assert!(url("127.0.0.1:3000", "readyz").is_err());
    }
}
