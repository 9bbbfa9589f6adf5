//! Creating the chargers and id tags a simulation or benchmark needs,
//! through the Joule REST API (`POST /api/v1/chargers`,
//! `POST /api/v1/id-tokens`, `Authorization: Bearer <api key>`). A `409
//! Conflict` means it exists already, which is fine: preparation is
//! idempotent. Requests run with bounded concurrency so a 20,000-charger
//! preparation does not open 20,000 HTTP connections.

use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Requests in flight at once.
const CONCURRENCY: usize = 32;

/// What a preparation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrepareReport {
    pub created: u64,
    /// Answered 409: existed already.
    pub existing: u64,
}

/// A preparation request failed.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("POST {url} failed: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("POST {url} for {item} answered {status}: {body}")]
    Status {
        url: String,
        item: String,
        status: StatusCode,
        body: String,
    },
}

/// Creates chargers `ids` (with `password` for Basic auth, if given).
pub async fn create_chargers_via_api(
    api_base: &str,
    api_key: &str,
    ids: &[String],
    password: Option<&str>,
) -> Result<PrepareReport, PrepareError> {
    let bodies = ids.iter().map(|id| {
        let mut body = json!({ "id": id });
        if let Some(password) = password {
            body["password"] = json!(password);
        }
        (id.clone(), body)
    });
    post_all(api_base, api_key, "chargers", bodies).await
}

/// Creates id tags (`{"id_tag": tag}`), e.g. the RFID tags of the simulated
/// drivers.
pub async fn create_id_tokens_via_api(
    api_base: &str,
    api_key: &str,
    tags: &[String],
) -> Result<PrepareReport, PrepareError> {
    let bodies = tags
        .iter()
        .map(|tag| (tag.clone(), json!({ "id_tag": tag })));
    post_all(api_base, api_key, "id-tokens", bodies).await
}

/// `{api_base}/api/v1/{collection}`, whether or not `api_base` already ends
/// in `/api/v1`.
pub fn collection_url(api_base: &str, collection: &str) -> String {
    let base = api_base.trim_end_matches('/');
    let base = base.strip_suffix("/api/v1").unwrap_or(base);
    format!("{base}/api/v1/{collection}")
}

async fn post_all(
    api_base: &str,
    api_key: &str,
    collection: &str,
    bodies: impl Iterator<Item = (String, Value)>,
) -> Result<PrepareReport, PrepareError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .map_err(PrepareError::Client)?;
    let url = collection_url(api_base, collection);
    let mut results = stream::iter(bodies)
        .map(|(item, body)| {
            let (client, url) = (&client, &url);
            async move {
                let response = client
                    .post(url)
                    .bearer_auth(api_key)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|source| PrepareError::Request {
                        url: url.clone(),
                        source,
                    })?;
                let status = response.status();
                if status.is_success() {
                    Ok(true)
                } else if status == StatusCode::CONFLICT {
                    Ok(false)
                } else {
                    let body = response.text().await.unwrap_or_default();
                    Err(PrepareError::Status {
                        url: url.clone(),
                        item,
                        status,
                        body: body.chars().take(500).collect(),
                    })
                }
            }
        })
        .buffer_unordered(CONCURRENCY);
    let mut report = PrepareReport::default();
    while let Some(result) = results.next().await {
        match result? {
            true => report.created += 1,
            false => report.existing += 1,
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn urls_are_built_from_either_base() {
        assert_eq!(
            collection_url("http://127.0.0.1:8080", "chargers"),
            "http://127.0.0.1:8080/api/v1/chargers"
        );
        assert_eq!(
            collection_url("http://h:1/api/v1/", "id-tokens"),
            "http://h:1/api/v1/id-tokens"
        );
    }

    /// A tiny HTTP/1.1 server answering 201 for even-numbered chargers and
    /// 409 for odd ones, recording each request head and body.
    async fn fake_api(statuses: fn(&str) -> u16) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Ok(Ok((mut sock, _))) =
                tokio::time::timeout(Duration::from_millis(500), listener.accept()).await
            {
                let mut buf = vec![0u8; 4096];
                let mut len = 0;
                // Read until the body (Content-Length) is complete.
                loop {
                    let n = sock.read(&mut buf[len..]).await.unwrap();
                    len += n;
                    let text = String::from_utf8_lossy(&buf[..len]).to_string();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let cl = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if len >= head_end + 4 + cl {
                            break;
                        }
                    }
                    if n == 0 {
                        break;
                    }
                }
                let text = String::from_utf8_lossy(&buf[..len]).to_string();
                let status = statuses(&text);
                let reason = if status == 201 { "Created" } else { "Conflict" };
                let resp = format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}");
                sock.write_all(resp.as_bytes()).await.unwrap();
                seen.push(text);
            }
            seen
        });
        (format!("http://{addr}"), handle)
    }

    #[tokio::test]
    async fn creates_chargers_and_treats_conflicts_as_existing() {
        let (base, server) = fake_api(|req| if req.contains("CP-0002") { 409 } else { 201 }).await;
        let ids = crate::charger_ids("CP-", 1, 3);
        let report = create_chargers_via_api(&base, "k3y", &ids, Some("s3cret"))
            .await
            .unwrap();
        assert_eq!(
            report,
            PrepareReport {
                created: 2,
                existing: 1
            }
        );
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 3);
        for req in &seen {
            assert!(req.starts_with("POST /api/v1/chargers HTTP/1.1"), "{req}");
            assert!(
                req.to_ascii_lowercase()
                    .contains("authorization: bearer k3y"),
                "{req}"
            );
            assert!(req.contains(r#""password":"s3cret""#), "{req}");
        }
    }

    #[tokio::test]
    async fn other_statuses_fail() {
        let (base, _server) = fake_api(|_| 422).await;
        let err = create_id_tokens_via_api(&base, "k", &["TAG-1".to_owned()])
            .await
            .unwrap_err();
        assert!(
            matches!(err, PrepareError::Status { status, .. } if status.as_u16() == 422),
            "{err}"
        );
    }
}
