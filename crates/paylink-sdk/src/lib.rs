//! A typed Rust client for paylink's dialects. Today: the Cardlink merchant API, the sandbox
//! payment helper, Procard's request signatures and the Card API's (`X-JWS-Signature`).

pub mod cardapi;
pub mod procard;
#[cfg(feature = "testing")]
pub mod testing;

use paylink_api::cardlink::{
    Bill, BillCreated, CreateBill, CursorPage, ErrorBody, Payment, SandboxPay, Search,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server refused, in the dialect's error shape.
    #[error("{status}: {}", body.message)]
    Api { status: u16, body: ErrorBody },
    /// The server answered something that is not the documented shape.
    #[error("{status}: undecodable answer: {body}")]
    Decode { status: u16, body: String },
}

impl Error {
    /// The HTTP status of an answered request.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::Transport(_) => None,
        }
    }

    /// `api:error.<key>` (or the plain message) of a refusal.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Api { body, .. } => Some(&body.message),
            _ => None,
        }
    }
}

/// A client of the Cardlink merchant API (`{base}/api/v1/...`).
#[derive(Clone)]
pub struct CardlinkClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl CardlinkClient {
    /// `base_url` is the server root, e.g. `http://127.0.0.1:8080`.
    pub fn new(base_url: &str, api_token: &str) -> CardlinkClient {
        CardlinkClient {
            http: reqwest::Client::new(),
            base: base_url.trim_end_matches('/').to_string(),
            token: api_token.to_string(),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, Error> {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&bytes).map_err(|_| Error::Decode {
                status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            })
        } else {
            match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => Err(Error::Api { status, body }),
                Err(_) => Err(Error::Decode {
                    status,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                }),
            }
        }
    }

    pub async fn create_bill(&self, request: &CreateBill) -> Result<BillCreated, Error> {
        self.call(reqwest::Method::POST, "/api/v1/bill/create", request)
            .await
    }

    pub async fn toggle_activity(&self, id: &str, active: bool) -> Result<Bill, Error> {
        let body = serde_json::json!({"id": id, "active": active});
        self.call(reqwest::Method::POST, "/api/v1/bill/toggle_activity", &body)
            .await
    }

    pub async fn bill_status(&self, id: &str) -> Result<Bill, Error> {
        self.call(
            reqwest::Method::GET,
            "/api/v1/bill/status",
            &serde_json::json!({"id": id}),
        )
        .await
    }

    pub async fn bill_payments(&self, search: &Search) -> Result<CursorPage<Payment>, Error> {
        self.call(reqwest::Method::GET, "/api/v1/bill/payments", search)
            .await
    }

    pub async fn search_bills(&self, search: &Search) -> Result<CursorPage<Bill>, Error> {
        self.call(reqwest::Method::GET, "/api/v1/bill/search", search)
            .await
    }

    pub async fn payment_status(&self, id: &str) -> Result<Payment, Error> {
        self.call(
            reqwest::Method::GET,
            "/api/v1/payment/status",
            &serde_json::json!({"id": id}),
        )
        .await
    }

    pub async fn search_payments(&self, search: &Search) -> Result<CursorPage<Payment>, Error> {
        self.call(reqwest::Method::GET, "/api/v1/payment/search", search)
            .await
    }

    /// Pays a bill through the sandbox acquirer (test mode).
    pub async fn sandbox_pay(&self, request: &SandboxPay) -> Result<Payment, Error> {
        self.call(reqwest::Method::POST, "/sandbox/pay", request)
            .await
    }
}
