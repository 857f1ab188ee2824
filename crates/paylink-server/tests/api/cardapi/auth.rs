//! Authentication (`../shared/compat/card-api.md`, "Verifying"): a request is served only when
//! its detached JWS is HS512 under the partner's current key, over the raw body as received,
//! and names this request's path, method and query. Every refusal is a 401 in the method's
//! envelope and leaves no trace: its `request_id` stays unused.

use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use paylink_sdk::cardapi::sign;
use sha2::Sha512;

const ADD: &str = "/v5/card-api/client/add";

/// A `client/add` body with `request_id`, as the bytes that are signed and sent.
fn add_body(request_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "request_id": request_id,
        "product_id": 1000,
        "client": {"phone": "77011234567", "type": 1, "resident": 1,
                   "first_name": "Ivan", "last_name": "Petrov"},
    }))
    .unwrap()
}

/// The protected header as the documented signers write it, with `alg` as given (left out
/// when `None`).
fn header_json(uri: &str, auth_id: &str, method: &str, params: &str, alg: Option<&str>) -> String {
    let mut h = format!(
        r#"{{"uri":{},"auth_id":{},"method":{},"params":{}"#,
        json!(uri),
        json!(auth_id),
        json!(method),
        json!(params)
    );
    if let Some(alg) = alg {
        h.push_str(&format!(r#","alg":{}"#, json!(alg)));
    }
    h.push('}');
    h
}

/// A token over any header text and `payload` segment, correctly HMAC-SHA512'd under `key`
/// over the header segment and the body: what a signer holding the key could send.
fn token(key: &str, header_json: &str, payload: &str, body: &[u8]) -> String {
    let header = B64URL.encode(header_json);
    let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{header}.{}", B64URL.encode(body)).as_bytes());
    format!(
        "{header}.{payload}.{}",
        B64URL.encode(mac.finalize().into_bytes())
    )
}

/// POSTs `body` to `path_and_query` with `signature` (none when `None`) as a partner's HTTP
/// client would, without the SDK: the HTTP status and the JSON answer.
async fn post_raw(
    app: &TestApp,
    path_and_query: &str,
    signature: Option<&str>,
    body: &[u8],
) -> (u16, Value) {
    let mut rb = app
        .http
        .post(app.url(path_and_query))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        rb = rb.header("X-JWS-Signature", s);
    }
    let response = rb.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let json =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {status} {text}"));
    assert_no_pan(&text);
    (status, json)
}

/// A v5 authentication refusal: HTTP 401 and the full error envelope with `code`.
#[track_caller]
fn assert_refused(answer: &(u16, Value), code: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 401, "{body}");
    assert_eq!(body["status"], json!("error"), "{body}");
    assert_eq!(body["request_status"], json!("error"), "{body}");
    assert_eq!(body["error_code"], json!(code), "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    let dt = body["dt"].as_str().unwrap_or_default();
    // `2026-12-05T14:05:45+00:00`
    assert!(
        dt.len() == 25 && &dt[10..11] == "T" && dt.ends_with("+00:00"),
        "{body}"
    );
}

/// The refused request left no trace: its `request_id` is unknown to `request/status`, and the
/// same request properly signed is then served (the id was not consumed).
async fn assert_untouched(p: &Partner, request_id: &str) {
    let status = p
        .client
        .request_status(request_id)
        .await
        .expect("the server answers");
    assert_eq!(
        status.error_code(),
        Some("request_not_found"),
        "{}",
        status.body
    );
    let again = p
        .client
        .call_bytes(ADD, add_body(request_id))
        .await
        .expect("the server answers");
    assert!(again.is_ok(), "{}", again.body);
    assert!(again.str("client_id").is_some(), "{}", again.body);
}

#[tokio::test]
async fn a_request_signed_by_the_sdk_is_served_and_so_is_one_signed_by_hand() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let a = p
        .client
        .add_client(
            1000,
            json!({"phone": "77011234567", "type": 1, "resident": 1,
                   "first_name": "Ivan", "last_name": "Petrov"}),
        )
        .await
        .unwrap();
    assert!(a.is_ok(), "{}", a.body);
    assert_eq!(a.body["request_status"], json!("success"));
    assert!(a.str("client_id").is_some(), "{}", a.body);

    let rid = new_request_id();
    let body = add_body(&rid);
    let signature = sign(&p.key, ADD, &p.auth_id, "POST", "", &body);
    let (status, answer) = post_raw(&app, ADD, Some(&signature), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], json!("ok"), "{answer}");
    assert!(answer["client_id"].is_string(), "{answer}");
    // The same token over a header written in another key order verifies too: the server
    // checks the header segment as received, not a re-serialisation of it.
    let reordered = format!(
        r#"{{"alg":"HS512","params":"","method":"POST","auth_id":{},"uri":"{ADD}"}}"#,
        json!(p.auth_id)
    );
    let body = add_body(&new_request_id());
    let (status, answer) = post_raw(
        &app,
        ADD,
        Some(&token(&p.key, &reordered, "", &body)),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    // The header under the name the API's table of headers gives it.
    let body = add_body(&new_request_id());
    let signature = sign(&p.key, ADD, &p.auth_id, "POST", "", &body);
    let response = app
        .http
        .post(app.url(ADD))
        .header("Content-Type", "application/json")
        .header("JWS-Signature", signature)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.expect("JSON");
    assert!(answer["client_id"].is_string(), "{answer}");
}

#[tokio::test]
async fn a_request_without_a_signature_is_refused_with_401_and_creates_nothing() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let answer = post_raw(&app, ADD, None, &add_body(&rid)).await;
    assert_refused(&answer, "invalid_signature");
    // Nor an empty or a malformed one.
    for bad in ["", "abc", "a.b", "a..b..c", "...."] {
        let answer = post_raw(&app, ADD, Some(bad), &add_body(&rid)).await;
        assert_refused(&answer, "invalid_signature");
    }
    assert_untouched(&p, &rid).await;
}

#[tokio::test]
async fn a_signature_made_with_another_key_is_refused() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let body = add_body(&rid);
    let mut wrong = p.key.clone();
    wrong.push('x');
    for key in [wrong.as_str(), "", "secret"] {
        let signature = sign(key, ADD, &p.auth_id, "POST", "", &body);
        assert_refused(
            &post_raw(&app, ADD, Some(&signature), &body).await,
            "invalid_signature",
        );
    }
    // A correct signature with one character of its MAC changed.
    let good = sign(&p.key, ADD, &p.auth_id, "POST", "", &body);
    let mut bytes = good.into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_refused(
        &post_raw(&app, ADD, Some(&tampered), &body).await,
        "invalid_signature",
    );
    assert_untouched(&p, &rid).await;
}

#[tokio::test]
async fn only_hs512_is_accepted_as_the_alg() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let body = add_body(&rid);
    // Each correctly MAC'd with the partner's key: only the alg is wrong.
    for alg in [Some("HS256"), Some("none"), Some("hs512"), Some(""), None] {
        let header = header_json(ADD, &p.auth_id, "POST", "", alg);
        let signature = token(&p.key, &header, "", &body);
        assert_refused(
            &post_raw(&app, ADD, Some(&signature), &body).await,
            "invalid_signature",
        );
    }
    // An unsecured JWS (alg none, no signature at all), as an attacker sends it.
    let header = B64URL.encode(header_json(ADD, &p.auth_id, "POST", "", Some("none")));
    assert_refused(
        &post_raw(&app, ADD, Some(&format!("{header}..")), &body).await,
        "invalid_signature",
    );
    // A real HS256 token (HMAC-SHA256) under the partner's key.
    let header = B64URL.encode(header_json(ADD, &p.auth_id, "POST", "", Some("HS256")));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(p.key.as_bytes()).unwrap();
    mac.update(format!("{header}.{}", B64URL.encode(&body)).as_bytes());
    let hs256 = format!("{header}..{}", B64URL.encode(mac.finalize().into_bytes()));
    assert_refused(
        &post_raw(&app, ADD, Some(&hs256), &body).await,
        "invalid_signature",
    );
    assert_untouched(&p, &rid).await;
}

#[tokio::test]
async fn a_body_altered_by_one_byte_after_signing_is_refused() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let body = add_body(&rid);
    let signature = sign(&p.key, ADD, &p.auth_id, "POST", "", &body);
    // "Ivan" becomes "Ivao"; and a trailing space, which changes no JSON value.
    let text = String::from_utf8(body.clone()).unwrap();
    let altered = text.replacen("Ivan", "Ivao", 1).into_bytes();
    assert_ne!(altered, body);
    assert_refused(
        &post_raw(&app, ADD, Some(&signature), &altered).await,
        "invalid_signature",
    );
    let mut spaced = body.clone();
    spaced.push(b' ');
    assert_refused(
        &post_raw(&app, ADD, Some(&signature), &spaced).await,
        "invalid_signature",
    );
    assert_untouched(&p, &rid).await;
}

#[tokio::test]
async fn an_unknown_auth_id_is_refused_as_unknown() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let body = add_body(&rid);
    for auth_id in ["ZZZZZZZZZ9", "123456", "", "no such partner"] {
        let signature = sign(&p.key, ADD, auth_id, "POST", "", &body);
        assert_refused(
            &post_raw(&app, ADD, Some(&signature), &body).await,
            "unknown_auth_id",
        );
    }
    assert_untouched(&p, &rid).await;
}

#[tokio::test]
async fn a_signature_for_another_path_is_a_uri_method_mismatch() {
    let app = spawn_app().await;
    let p = partner(&app, 1000).await;
    let card = p.funded_card("10.00").await;
    let body =
        serde_json::to_vec(&json!({"request_id": new_request_id(), "card_id": card})).unwrap();
    let for_info = sign(
        &p.key,
        "/v5/card-api/card/info",
        &p.auth_id,
        "POST",
        "",
        &body,
    );
    let answer = post_raw(&app, "/v5/card-api/card/balance", Some(&for_info), &body).await;
    assert_refused(&answer, "uri_method_mismatch");
    // A client/add signed for client/edit's path creates nothing.
    let rid = new_request_id();
    let add = add_body(&rid);
    let for_edit = sign(
        &p.key,
        "/v5/card-api/client/edit",
        &p.auth_id,
        "POST",
        "",
        &add,
    );
    assert_refused(
        &post_raw(&app, ADD, Some(&for_edit), &add).await,
        "uri_method_mismatch",
    );
    assert_untouched(&p, &rid).await;
}

#[tokio::test]
async fn a_signature_naming_another_http_method_is_a_uri_method_mismatch() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let body = add_body(&rid);
    for method in ["GET", "post", "PUT"] {
        let signature = sign(&p.key, ADD, &p.auth_id, method, "", &body);
        assert_refused(
            &post_raw(&app, ADD, Some(&signature), &body).await,
            "uri_method_mismatch",
        );
    }
    assert_untouched(&p, &rid).await;
}

#[tokio::test]
async fn a_signature_over_other_query_params_is_a_uri_method_mismatch() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let body = add_body(&rid);
    // Signed with params "a=1", sent without a query.
    let signature = sign(&p.key, ADD, &p.auth_id, "POST", "a=1", &body);
    assert_refused(
        &post_raw(&app, ADD, Some(&signature), &body).await,
        "uri_method_mismatch",
    );
    // Signed without params, sent with a query; and signed with one query, sent with another.
    let signature = sign(&p.key, ADD, &p.auth_id, "POST", "", &body);
    assert_refused(
        &post_raw(&app, &format!("{ADD}?a=1"), Some(&signature), &body).await,
        "uri_method_mismatch",
    );
    let signature = sign(&p.key, ADD, &p.auth_id, "POST", "a=1", &body);
    assert_refused(
        &post_raw(&app, &format!("{ADD}?a=2"), Some(&signature), &body).await,
        "uri_method_mismatch",
    );
    assert_untouched(&p, &rid).await;
    // The query signed as params is served.
    let body = add_body(&new_request_id());
    let signature = sign(&p.key, ADD, &p.auth_id, "POST", "a=1", &body);
    let (status, answer) = post_raw(&app, &format!("{ADD}?a=1"), Some(&signature), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], json!("ok"), "{answer}");
}

#[tokio::test]
async fn a_payload_segment_must_be_empty_or_the_body_itself() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let header = header_json(ADD, &p.auth_id, "POST", "", Some("HS512"));

    let rid = new_request_id();
    let body = add_body(&rid);
    let other = B64URL.encode(add_body("another-request"));
    let refused = token(&p.key, &header, &other, &body);
    assert_refused(
        &post_raw(&app, ADD, Some(&refused), &body).await,
        "invalid_signature",
    );
    // Padded base64 of the body is not its base64url segment either.
    let padded = base64::engine::general_purpose::URL_SAFE.encode(&body);
    if padded.ends_with('=') {
        let refused = token(&p.key, &header, &padded, &body);
        assert_refused(
            &post_raw(&app, ADD, Some(&refused), &body).await,
            "invalid_signature",
        );
    }
    assert_untouched(&p, &rid).await;

    let body = add_body(&new_request_id());
    let attached = token(&p.key, &header, &B64URL.encode(&body), &body);
    let (status, answer) = post_raw(&app, ADD, Some(&attached), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["client_id"].is_string(), "{answer}");
}

#[tokio::test]
async fn a_signature_header_over_4096_bytes_is_refused() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let rid = new_request_id();
    let body = add_body(&rid);
    // Otherwise valid: params as long as the query actually sent.
    let query = format!("pad={}", "x".repeat(3000));
    let signature = sign(&p.key, ADD, &p.auth_id, "POST", &query, &body);
    assert!(signature.len() > 4096, "{}", signature.len());
    assert_refused(
        &post_raw(&app, &format!("{ADD}?{query}"), Some(&signature), &body).await,
        "invalid_signature",
    );
    // Plain garbage of that size too.
    let junk = "A".repeat(5000);
    assert_refused(
        &post_raw(&app, ADD, Some(&junk), &body).await,
        "invalid_signature",
    );
    assert_untouched(&p, &rid).await;
}

#[tokio::test]
async fn a_gift_card_method_refuses_a_bad_signature_in_the_gift_envelope() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    let path = "/v5/cards/products";
    let body = serde_json::to_vec(&json!({"request_id": new_request_id()})).unwrap();
    let wrong = sign("not the key", path, &p.auth_id, "POST", "", &body);
    for signature in [None, Some(wrong.as_str())] {
        let (status, answer) = post_raw(&app, path, signature, &body).await;
        assert_eq!(status, 401, "{answer}");
        assert_eq!(answer["status"], json!(1), "{answer}");
        assert_eq!(answer["error_code"], json!("invalid_signature"), "{answer}");
        // `2026-12-05 14:05:45`
        let datetime = answer["datetime"].as_str().unwrap_or_default();
        assert!(datetime.len() == 19 && &datetime[10..11] == " ", "{answer}");
        assert!(answer.get("dt").is_none(), "{answer}");
        assert!(answer.get("request_status").is_none(), "{answer}");
    }
    // Properly signed, the same request is served.
    let good = sign(&p.key, path, &p.auth_id, "POST", "", &body);
    let (status, answer) = post_raw(&app, path, Some(&good), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], json!(0), "{answer}");
    assert!(answer["products"].is_array(), "{answer}");
}

#[tokio::test]
async fn after_a_key_rotation_the_old_key_is_refused_and_the_new_one_served() {
    let app = spawn_app().await;
    let p = partner(&app, 0).await;
    p.client("Ivan", "Petrov", "77011234567").await;
    let rotated = paylink_server::ops::issuing::rotate_partner_key(
        &app.store,
        &app.keys,
        &paylink_core::audit::Actor::cli("test"),
        &p.auth_id,
        app.now(),
    )
    .await
    .expect("the key is rotated");
    assert_eq!(rotated.auth_id, p.auth_id);
    assert_ne!(rotated.secret_key.expose(), &p.key);

    let rid = new_request_id();
    let old = p
        .client
        .call_bytes(ADD, add_body(&rid))
        .await
        .expect("the server answers");
    assert_eq!(old.http_status, 401, "{}", old.body);
    assert_eq!(old.error_code(), Some("invalid_signature"), "{}", old.body);

    let new = Partner {
        auth_id: p.auth_id.clone(),
        key: rotated.secret_key.expose().clone(),
        client: CardApiClient::new(&app.address, &p.auth_id, rotated.secret_key.expose()),
    };
    // The refused request left its id unused; with the new key it is served.
    assert_untouched(&new, &rid).await;
}

#[tokio::test]
async fn one_partners_key_cannot_sign_as_another_partner() {
    let app = spawn_app().await;
    let a = partner(&app, 0).await;
    let b = partner(&app, 0).await;
    let rid = new_request_id();
    let body = add_body(&rid);
    let forged = sign(&a.key, ADD, &b.auth_id, "POST", "", &body);
    assert_refused(
        &post_raw(&app, ADD, Some(&forged), &body).await,
        "invalid_signature",
    );
    assert_untouched(&b, &rid).await;
    // A's own request id space is untouched too.
    let status = a.client.request_status(&rid).await.unwrap();
    assert_eq!(
        status.error_code(),
        Some("request_not_found"),
        "{}",
        status.body
    );
}
