//! The Card API v5's request signature, as a partner's client makes it: the `X-JWS-Signature`
//! header, a detached JWS (HS512) binding the request's path, method, query and raw body to the
//! partner (`docs/card-api.md`).
//!
//! The value is `<b64url(header)>..<b64url(HMAC-SHA512(key, b64url(header) + "." +
//! b64url(body)))>`, base64url without padding, where the header is
//! `{"uri":…,"auth_id":…,"method":…,"params":…,"alg":"HS512"}`: compact, in that key order,
//! `/` not escaped. Partners' own signers serialise it that way, so reproducing their bytes
//! (the seed's example among them) needs exactly that text.
//!
//! [`CardApiClient`] sends signed requests and hands back the answer as JSON: the dialect
//! answers business refusals with HTTP 200 and `"status": "error"`, so a refusal is an
//! [`Answer`] to inspect, not an [`Error`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha512;

use crate::Error;

/// The `X-JWS-Signature` value for a request to `uri` (the path, e.g.
/// `/v5/card-api/request/status`) with HTTP `method`, raw query string `params` (`""` when
/// none) and exactly the `body` bytes that will be sent, under the partner's `key`.
pub fn sign(
    key: &str,
    uri: &str,
    auth_id: &str,
    method: &str,
    params: &str,
    body: &[u8],
) -> String {
    let header = B64URL.encode(protected_header(uri, auth_id, method, params));
    let signing_input = format!("{header}.{}", B64URL.encode(body));
    let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(signing_input.as_bytes());
    let signature = B64URL.encode(mac.finalize().into_bytes());
    format!("{header}..{signature}")
}

/// The protected header's JSON text. Built by hand rather than from a map because the key
/// order is part of the signed bytes; serde_json escapes each value (it leaves `/` alone).
fn protected_header(uri: &str, auth_id: &str, method: &str, params: &str) -> String {
    let quote = |value: &str| serde_json::to_string(value).expect("a string serialises");
    format!(
        r#"{{"uri":{},"auth_id":{},"method":{},"params":{},"alg":"HS512"}}"#,
        quote(uri),
        quote(auth_id),
        quote(method),
        quote(params)
    )
}

/// A client of the Card API v5 (`{base}/v5/card-api/...`, `{base}/v5/cards/...`) for one
/// partner: every request is a POST of a JSON body signed with the partner's key.
#[derive(Clone)]
pub struct CardApiClient {
    http: reqwest::Client,
    base: String,
    auth_id: String,
    secret_key: String,
}

/// What the server answered: its HTTP status and its JSON body, refusals included.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub http_status: u16,
    pub body: Value,
}

impl Answer {
    /// HTTP 200 and a success envelope: `"status": "ok"` (`/v5/card-api/`) or `"status": 0`
    /// (gift cards under `/v5/cards/`). `request/status` of a failed request is itself a
    /// success: the original's outcome is in `request_status` and `error_code`.
    pub fn is_ok(&self) -> bool {
        self.http_status == 200
            && match self.body.get("status") {
                Some(Value::String(status)) => status == "ok",
                Some(Value::Number(status)) => status.as_u64() == Some(0),
                _ => false,
            }
    }

    /// `error_code` of a refusal (`card_not_found`, `invalid_signature`, ...).
    pub fn error_code(&self) -> Option<&str> {
        self.str("error_code")
    }

    /// A top-level string field of the body (`card_id`, `transaction_id`, ...).
    pub fn str(&self, field: &str) -> Option<&str> {
        self.body.get(field)?.as_str()
    }
}

impl CardApiClient {
    /// `base_url` is the server root, e.g. `http://127.0.0.1:8080`; `auth_id` and `secret_key`
    /// are what `paylink partner create --json` printed.
    pub fn new(base_url: &str, auth_id: &str, secret_key: &str) -> CardApiClient {
        CardApiClient {
            http: reqwest::Client::new(),
            base: base_url.trim_end_matches('/').to_string(),
            auth_id: auth_id.to_string(),
            secret_key: secret_key.to_string(),
        }
    }

    /// POSTs `body` to `path` (the full path, e.g. `/v5/card-api/card/info`). The body is
    /// serialised once and those bytes are both signed and sent: a second serialisation could
    /// differ (key order, number form) and the signature would no longer match.
    pub async fn call(&self, path: &str, body: &Value) -> Result<Answer, Error> {
        let bytes = serde_json::to_vec(body).expect("a JSON value serialises");
        self.call_bytes(path, bytes).await
    }

    /// POSTs exactly `body`, signed, whatever it holds (malformed JSON included).
    pub async fn call_bytes(&self, path: &str, body: Vec<u8>) -> Result<Answer, Error> {
        let response = self.request(path, body).send().await?;
        let http_status = response.status().as_u16();
        let bytes = response.bytes().await?;
        match serde_json::from_slice(&bytes) {
            Ok(body) => Ok(Answer { http_status, body }),
            Err(_) => Err(Error::Decode {
                status: http_status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            }),
        }
    }

    /// The signed request, not sent. A query in `path` is signed as the header's `params`,
    /// the path before it as `uri`, as the server checks them.
    fn request(&self, path: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        let (uri, params) = path.split_once('?').unwrap_or((path, ""));
        let signature = sign(&self.secret_key, uri, &self.auth_id, "POST", params, &body);
        self.http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-JWS-Signature", signature)
            .body(body)
    }

    /// `client/add`: `client` holds phone, type, resident, first_name, last_name, ...
    pub async fn add_client(&self, product_id: u32, client: Value) -> Result<Answer, Error> {
        self.call_fresh(
            "/v5/card-api/client/add",
            json!({"product_id": product_id, "client": client}),
        )
        .await
    }

    /// `card/issue`: a virtual card for `client_id`, issued active.
    pub async fn issue_card(
        &self,
        product_id: u32,
        client_id: &str,
        currency: &str,
    ) -> Result<Answer, Error> {
        self.call_fresh(
            "/v5/card-api/card/issue",
            json!({"product_id": product_id, "client_id": client_id, "currency": currency}),
        )
        .await
    }

    /// `card/info`: the answer's `card` object.
    pub async fn card_info(&self, card_id: &str) -> Result<Answer, Error> {
        self.call_fresh("/v5/card-api/card/info", json!({"card_id": card_id}))
            .await
    }

    /// `card/balance`: `balance`, `hold`, `available`, `currency`.
    pub async fn card_balance(&self, card_id: &str) -> Result<Answer, Error> {
        self.call_fresh("/v5/card-api/card/balance", json!({"card_id": card_id}))
            .await
    }

    /// `transaction/create`: `kind` is `credit` (fund the card from the partner's prepaid
    /// balance) or `debit`; `amount` a decimal string in major units (`"1500.00"`).
    pub async fn transaction(
        &self,
        card_id: &str,
        kind: &str,
        amount: &str,
        currency: &str,
        description: &str,
    ) -> Result<Answer, Error> {
        self.call_fresh(
            "/v5/card-api/transaction/create",
            json!({
                "card_id": card_id,
                "type": kind,
                "amount": amount,
                "currency": currency,
                "description": description,
            }),
        )
        .await
    }

    /// `request/status` of an earlier request, by ITS `request_id` (no fresh one: this lookup's
    /// `request_id` names the original).
    pub async fn request_status(&self, request_id: &str) -> Result<Answer, Error> {
        self.call(
            "/v5/card-api/request/status",
            &json!({"request_id": request_id}),
        )
        .await
    }

    /// `fields` with a fresh `request_id` added.
    async fn call_fresh(&self, path: &str, mut fields: Value) -> Result<Answer, Error> {
        if let Value::Object(map) = &mut fields {
            map.insert("request_id".into(), Value::String(new_request_id()));
        }
        self.call(path, &fields).await
    }
}

/// A fresh random UUID v4 in its text form, for `request_id`.
///
/// The SDK depends on neither `uuid` nor `rand`, so the 16 bytes come from std: each
/// `RandomState` is keyed from the operating system's randomness (once per thread, then
/// stepped), and SipHash under that key over a process-wide counter and the clock gives bytes
/// no one can predict and that do not repeat.
pub fn new_request_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let mut bytes = [0u8; 16];
    for (half, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(count);
        hasher.write_u128(nanos);
        hasher.write_usize(half);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_BODY: &[u8] = br#"{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197ca"}"#;
    /// The seed's example (`X-JWS-Signature` under key `secret`), also checked in Python and
    /// Node per the compat note.
    const SEED_SIGNATURE: &str = "eyJ1cmkiOiIvdjUvY2FyZC1hcGkvcmVxdWVzdC9zdGF0dXMiLCJhdXRoX2lkIjoiMTIzNDU2IiwibWV0aG9kIjoiUE9TVCIsInBhcmFtcyI6IiIsImFsZyI6IkhTNTEyIn0..f1sQoeIpX_ZjOaykQzSeylvvKaVrEQV4gNM2ACFbEMkFDUV9Zk5WO1yQGEWez-vnQMVHodLBDVEyh5Xm2-3MjQ";

    fn header_of(signature: &str) -> String {
        let (header, _) = signature.split_once('.').unwrap();
        String::from_utf8(B64URL.decode(header).unwrap()).unwrap()
    }

    #[test]
    fn reproduces_the_seed_example_byte_for_byte() {
        let signature = sign(
            "secret",
            "/v5/card-api/request/status",
            "123456",
            "POST",
            "",
            SEED_BODY,
        );
        assert_eq!(signature, SEED_SIGNATURE);
        assert_eq!(
            header_of(&signature),
            r#"{"uri":"/v5/card-api/request/status","auth_id":"123456","method":"POST","params":"","alg":"HS512"}"#
        );
    }

    #[test]
    fn the_signature_depends_on_every_input() {
        let uri = "/v5/card-api/request/status";
        let mut body = SEED_BODY.to_vec();
        body[2] ^= 1;
        let variants = [
            sign("secreT", uri, "123456", "POST", "", SEED_BODY),
            sign(
                "secret",
                "/v5/card-api/card/info",
                "123456",
                "POST",
                "",
                SEED_BODY,
            ),
            sign("secret", uri, "123457", "POST", "", SEED_BODY),
            sign("secret", uri, "123456", "PUT", "", SEED_BODY),
            sign("secret", uri, "123456", "POST", "a=1", SEED_BODY),
            sign("secret", uri, "123456", "POST", "", &body),
        ];
        let mac = |signature: &str| signature.rsplit_once('.').unwrap().1.to_string();
        for variant in variants {
            assert_ne!(
                mac(&variant),
                mac(SEED_SIGNATURE),
                "{}",
                header_of(&variant)
            );
        }
    }

    #[test]
    fn detached_form_without_padding_or_non_url_characters() {
        // Body and header lengths chosen so standard base64 would need padding.
        for body in [&b""[..], b"a", b"ab", b"abc", b"\xff\xfe\xfd?>"] {
            let signature = sign("k", "/v5/card-api/card/info", "1", "POST", "x=%2F&y", body);
            let parts: Vec<&str> = signature.split('.').collect();
            assert_eq!(parts.len(), 3);
            assert_eq!(parts[1], "", "the payload is detached");
            assert_eq!(B64URL.decode(parts[2]).unwrap().len(), 64, "HMAC-SHA512");
            assert!(signature
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
        }
    }

    #[test]
    fn header_values_are_json_escaped_in_the_documented_key_order() {
        let uri = r#"/v5/"odd"\path/ü"#;
        let params = "q=a b&c=\u{1}\n";
        let signature = sign("secret", uri, "id\"1", "POST", params, b"{}");
        let header = header_of(&signature);
        assert_eq!(
            header,
            "{\"uri\":\"/v5/\\\"odd\\\"\\\\path/ü\",\"auth_id\":\"id\\\"1\",\"method\":\"POST\",\
             \"params\":\"q=a b&c=\\u0001\\n\",\"alg\":\"HS512\"}"
        );
        // And it parses back to the same values.
        let parsed: serde_json::Value = serde_json::from_str(&header).unwrap();
        assert_eq!(parsed["uri"], uri);
        assert_eq!(parsed["auth_id"], "id\"1");
        assert_eq!(parsed["params"], params);
        assert_eq!(parsed["alg"], "HS512");
    }

    /// The fixed string the server's verifier tests accept (a request with a query string),
    /// computed independently in Python.
    #[test]
    fn signs_the_round_trip_fixture() {
        assert_eq!(
            sign(
                "partner-key-1",
                "/v5/card-api/card/info",
                "777",
                "POST",
                "lang=en&x=1",
                br#"{"request_id":"r-1","card_id":"c1"}"#,
            ),
            ROUND_TRIP_FIXTURE
        );
    }

    const ROUND_TRIP_FIXTURE: &str = "eyJ1cmkiOiIvdjUvY2FyZC1hcGkvY2FyZC9pbmZvIiwiYXV0aF9pZCI6Ijc3NyIsIm1ldGhvZCI6IlBPU1QiLCJwYXJhbXMiOiJsYW5nPWVuJng9MSIsImFsZyI6IkhTNTEyIn0..7iOghu8METHeTdtPVNOeIn_GC5dLztcm7E9sp-oR1rHNBQn5ooLbAfjrjTsjPIBc5_agx1_0EXLLuMgv482QVw";

    fn client() -> CardApiClient {
        CardApiClient::new("http://127.0.0.1:9/", "123456", "secret")
    }

    #[test]
    fn a_request_carries_the_bytes_it_signs() {
        let request = client()
            .request("/v5/card-api/request/status", SEED_BODY.to_vec())
            .build()
            .unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(
            request.url().as_str(),
            "http://127.0.0.1:9/v5/card-api/request/status"
        );
        assert_eq!(request.headers()["content-type"], "application/json");
        let sent = request.body().and_then(|b| b.as_bytes()).unwrap();
        assert_eq!(sent, SEED_BODY);
        assert_eq!(request.headers()["x-jws-signature"], SEED_SIGNATURE);
    }

    #[test]
    fn a_query_in_the_path_is_signed_as_params() {
        let request = client()
            .request("/v5/card-api/card/info?lang=en&x=1", b"{}".to_vec())
            .build()
            .unwrap();
        assert_eq!(request.url().query(), Some("lang=en&x=1"));
        assert_eq!(
            request.headers()["x-jws-signature"],
            sign(
                "secret",
                "/v5/card-api/card/info",
                "123456",
                "POST",
                "lang=en&x=1",
                b"{}"
            )
            .as_str()
        );
    }

    #[test]
    fn request_ids_are_distinct_v4_uuids() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let id = new_request_id();
            let groups: Vec<&str> = id.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12],
                "{id}"
            );
            assert!(id
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert!(groups[2].starts_with('4'), "version 4: {id}");
            assert!(
                matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
                "variant: {id}"
            );
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn answers_read_both_envelopes() {
        let answer = |http_status, body| Answer { http_status, body };
        assert!(answer(200, json!({"status": "ok", "card_id": "c1"})).is_ok());
        assert!(answer(200, json!({"status": 0})).is_ok());
        assert!(!answer(200, json!({"status": 1, "error_code": "otp_invalid"})).is_ok());
        assert!(!answer(401, json!({"status": "ok"})).is_ok());
        assert!(!answer(200, json!({"status": "error"})).is_ok());
        assert!(!answer(200, json!(["ok"])).is_ok());
        let refused = answer(
            200,
            json!({"status": "error", "error_code": "card_not_found", "n": 1}),
        );
        assert_eq!(refused.error_code(), Some("card_not_found"));
        assert_eq!(refused.str("status"), Some("error"));
        assert_eq!(refused.str("n"), None, "not a string");
        assert_eq!(refused.str("missing"), None);
        assert_eq!(answer(200, json!({"status": "ok"})).error_code(), None);
    }

    /// Against a real socket: what arrives is what was signed, and answers of any HTTP status
    /// come back as answers (the dialect refuses with 200, 400 and 401 alike). Needs a runtime,
    /// hence the `testing` feature (`cargo test -p paylink-sdk --features testing`).
    #[cfg(feature = "testing")]
    mod over_http {
        use super::*;
        use std::io::{Read, Write};
        use std::net::TcpListener;

        /// Serves one request with `status` and `body`; the thread returns the raw request
        /// (head, body).
        fn serve_once(
            status: u16,
            body: &'static str,
        ) -> (String, std::thread::JoinHandle<(String, Vec<u8>)>) {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let server = std::thread::spawn(move || {
                let (mut stream, _) = listener.accept().unwrap();
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                let (head, length) = loop {
                    let n = stream.read(&mut buf).unwrap();
                    assert!(n > 0, "the client hung up mid-request");
                    raw.extend_from_slice(&buf[..n]);
                    if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8(raw[..end].to_vec()).unwrap();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        raw.drain(..end + 4);
                        break (head, length);
                    }
                };
                while raw.len() < length {
                    let n = stream.read(&mut buf).unwrap();
                    assert!(n > 0, "the client hung up mid-body");
                    raw.extend_from_slice(&buf[..n]);
                }
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(answer.as_bytes()).unwrap();
                (head, raw)
            });
            (base, server)
        }

        fn header<'a>(head: &'a str, name: &str) -> &'a str {
            head.lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case(name).then(|| v.trim())
                })
                .unwrap_or("")
        }

        #[tokio::test]
        async fn the_signature_verifies_over_the_bytes_that_arrive() {
            let (base, server) = serve_once(200, r#"{"status":"ok","card_id":"c1"}"#);
            let client = CardApiClient::new(&base, "777", "partner-key-1");
            let body = json!({"request_id": "r-1", "card_id": "c1", "note": "ü/\"\u{1}", "n": 1.5});
            let answer = client.call("/v5/card-api/card/info", &body).await.unwrap();
            assert!(answer.is_ok());
            assert_eq!(answer.str("card_id"), Some("c1"));

            let (head, sent) = server.join().unwrap();
            assert!(
                head.starts_with("POST /v5/card-api/card/info HTTP/1.1"),
                "{head}"
            );
            assert_eq!(header(&head, "content-type"), "application/json");
            assert_eq!(sent, serde_json::to_vec(&body).unwrap());
            assert_eq!(
                header(&head, "x-jws-signature"),
                sign(
                    "partner-key-1",
                    "/v5/card-api/card/info",
                    "777",
                    "POST",
                    "",
                    &sent
                )
            );
        }

        #[tokio::test]
        async fn raw_bodies_are_sent_as_given_and_refusals_are_answers() {
            let (base, server) = serve_once(
                400,
                r#"{"status":"error","request_status":"error","error_code":"validation_error"}"#,
            );
            let client = CardApiClient::new(&base, "777", "k");
            let answer = client
                .call_bytes("/v5/card-api/card/info", b"{not json".to_vec())
                .await
                .unwrap();
            assert_eq!(answer.http_status, 400);
            assert!(!answer.is_ok());
            assert_eq!(answer.error_code(), Some("validation_error"));
            let (head, sent) = server.join().unwrap();
            assert_eq!(sent, b"{not json");
            assert_eq!(
                header(&head, "x-jws-signature"),
                sign(
                    "k",
                    "/v5/card-api/card/info",
                    "777",
                    "POST",
                    "",
                    b"{not json"
                )
            );
        }

        #[tokio::test]
        async fn a_typed_call_sends_a_fresh_request_id() {
            let (base, server) = serve_once(200, r#"{"status":"ok","balance":"0.00"}"#);
            let client = CardApiClient::new(&base, "777", "k");
            let answer = client.card_balance("c9").await.unwrap();
            assert_eq!(answer.str("balance"), Some("0.00"));
            let (head, sent) = server.join().unwrap();
            assert!(
                head.starts_with("POST /v5/card-api/card/balance "),
                "{head}"
            );
            let sent: Value = serde_json::from_slice(&sent).unwrap();
            assert_eq!(sent["card_id"], "c9");
            assert_eq!(sent["request_id"].as_str().unwrap().len(), 36);
        }

        #[tokio::test]
        async fn an_answer_that_is_not_json_is_an_error() {
            let (base, server) = serve_once(502, "<html>bad gateway</html>");
            let client = CardApiClient::new(&base, "777", "k");
            let error = client
                .call("/v5/card-api/card/info", &json!({}))
                .await
                .unwrap_err();
            assert!(
                matches!(&error, Error::Decode { status: 502, body } if body.contains("bad gateway")),
                "{error}"
            );
            server.join().unwrap();
        }
    }
}
