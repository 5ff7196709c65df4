//! The one HTTP client for tests of the emulator's wire behaviour: requests to
//! `/v2/{project}/desktops…` of one emulator, answers with status, headers and JSON body.

use desktag_api::sign::{self, Signable};
use serde_json::Value;

use super::PROJECT;

/// A client for one emulator's desktop APIs of [`PROJECT`].
pub struct Wire {
    pub base: String,
    pub http: reqwest::Client,
}

/// One answer.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON; `Null` when empty.
    pub json: Value,
}

impl Answer {
    /// The `X-Request-Id` header.
    pub fn request_id(&self) -> &str {
        self.headers["x-request-id"].to_str().unwrap()
    }
}

impl Wire {
    /// A client for the emulator at `base` (its base URL), bypassing any proxy.
    pub fn new(base: String) -> Wire {
        Wire {
            base,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    /// `…/v2/{PROJECT}/desktops{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v2/{PROJECT}/desktops{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        Answer {
            status,
            headers,
            json,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> Answer {
        self.send(
            self.http
                .post(self.url(path))
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.http.delete(self.url(path))).await
    }

    /// `POST …/batch-tags`.
    pub async fn batch_add(&self, body: Value) -> Answer {
        self.post("/batch-tags", body).await
    }

    /// `DELETE …/batch-tags` with a JSON body.
    pub async fn batch_delete(&self, body: Value) -> Answer {
        self.send(self.http.delete(self.url("/batch-tags")).json(&body))
            .await
    }

    /// A desktop's tags, from `GET …/{id}/tags` (which must answer 200).
    pub async fn tags(&self, id: &str) -> Value {
        let a = self.get(&format!("/{id}/tags")).await;
        assert_eq!(a.status, 200, "{}", a.json);
        a.json["tags"].clone()
    }

    /// A request signed like the SDK does, with `ak` and `sk`, sent with the given date.
    pub async fn signed(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        (ak, sk): (&str, &str),
        date: &str,
    ) -> Answer {
        let full_path = format!("/v2/{PROJECT}/desktops{path}");
        let host = self.base.trim_start_matches("http://").to_string();
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Host".to_string(), host),
            ("X-Project-Id".to_string(), PROJECT.to_string()),
            ("X-Sdk-Date".to_string(), date.to_string()),
        ];
        let auth = sign::authorization(
            ak,
            sk,
            &Signable {
                method,
                path: &full_path,
                query: &[],
                headers: &headers,
                body,
            },
        );
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{full_path}", self.base))
            .header("Authorization", auth)
            .body(body.to_vec());
        for (name, value) in headers.iter().filter(|(n, _)| n != "Host") {
            req = req.header(name, value);
        }
        self.send(req).await
    }
}
