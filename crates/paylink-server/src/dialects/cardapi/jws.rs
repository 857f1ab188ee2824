//! The Card API's request authentication: `X-JWS-Signature: <b64url(header)>..<b64url(sig)>`,
//! a compact JWS with its payload part removed, HS512 only (`../shared/compat/card-api.md`,
//! "Authentication: detached JWS, HS512").
//!
//! Two steps, because the key depends on the token: [`parse`] checks the form and the header
//! and yields the partner's `auth_id`; the caller looks the partner up (or answers
//! [`JwsError::UnknownAuthId`]) and [`Unverified::verify`] checks the HMAC-SHA512 over the
//! header segment as received and the raw body, then that the header names this request.
//! Every failure answers 401 with [`JwsError::code`] and changes nothing.
//!
//! Strict on purpose: base64url without padding (RFC 7515, and what partners' signers emit),
//! the header a JSON object of strings with no repeated names (so no two parsers can read one
//! token differently), `alg` exactly `HS512`, no `crit` extensions.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use sha2::Sha512;
use std::collections::BTreeMap;
use std::fmt;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The longest `X-JWS-Signature` value accepted, in bytes. The documented header with a
/// typical path is under 200 bytes and the signature 86; this leaves room for long query
/// strings while bounding the work an unauthenticated request can cause.
pub const MAX_HEADER_LEN: usize = 4096;

/// The only algorithm accepted.
pub const ALG: &str = "HS512";

/// HMAC-SHA512 output length.
const SIGNATURE_LEN: usize = 64;

/// What a verified token says: the partner and the request it signs (which, once verified,
/// equals the request received).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub auth_id: String,
    pub uri: String,
    pub method: String,
    pub params: String,
}

/// A well-formed token whose signature is not yet checked: only [`Unverified::auth_id`] may be
/// used, to find the key.
#[derive(Debug)]
pub struct Unverified {
    /// Kept as received: the HMAC covers these bytes, not a re-serialisation.
    header_segment: String,
    payload_segment: String,
    signature: [u8; SIGNATURE_LEN],
    claims: Claims,
}

/// Why a request's signature is refused: one variant per failure; `Display` is the human
/// description (it never echoes what was received).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JwsError {
    #[error("the X-JWS-Signature header is missing")]
    Missing,
    #[error("the X-JWS-Signature header is longer than {MAX_HEADER_LEN} bytes")]
    TooLong,
    #[error("X-JWS-Signature must be a detached JWS: <header>..<signature>")]
    NotDetached,
    #[error("the JWS header is not base64url without padding")]
    HeaderEncoding,
    #[error("the JWS header is not a JSON object of strings with distinct names")]
    HeaderJson,
    #[error("the JWS header has no \"{0}\"")]
    MissingClaim(&'static str),
    #[error("the JWS alg must be HS512")]
    UnsupportedAlg,
    #[error("the JWS header's \"crit\" extensions are not supported")]
    Critical,
    #[error("the JWS payload part must be empty (or the base64url request body)")]
    PayloadMismatch,
    #[error("the JWS signature is not a base64url HMAC-SHA512")]
    SignatureEncoding,
    #[error("the JWS signature does not match the header and the body")]
    BadSignature,
    #[error("no partner has this auth_id")]
    UnknownAuthId,
    #[error("the JWS uri is not the request path")]
    UriMismatch,
    #[error("the JWS method is not the request method")]
    MethodMismatch,
    #[error("the JWS params are not the request's query string")]
    ParamsMismatch,
}

impl JwsError {
    /// The compat note's `error_code`.
    pub fn code(&self) -> &'static str {
        match self {
            JwsError::UnknownAuthId => "unknown_auth_id",
            JwsError::UriMismatch | JwsError::MethodMismatch | JwsError::ParamsMismatch => {
                "uri_method_mismatch"
            }
            JwsError::Missing
            | JwsError::TooLong
            | JwsError::NotDetached
            | JwsError::HeaderEncoding
            | JwsError::HeaderJson
            | JwsError::MissingClaim(_)
            | JwsError::UnsupportedAlg
            | JwsError::Critical
            | JwsError::PayloadMismatch
            | JwsError::SignatureEncoding
            | JwsError::BadSignature => "invalid_signature",
        }
    }
}

/// Checks the form of an `X-JWS-Signature` value and reads its header; nothing is trusted yet.
pub fn parse(header_value: &str) -> Result<Unverified, JwsError> {
    if header_value.len() > MAX_HEADER_LEN {
        return Err(JwsError::TooLong);
    }
    let mut parts = header_value.split('.');
    let (Some(header_segment), Some(payload_segment), Some(signature_segment), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::NotDetached);
    };
    let header_json = B64URL
        .decode(header_segment)
        .map_err(|_| JwsError::HeaderEncoding)?;
    let StringObject(mut header) =
        serde_json::from_slice(&header_json).map_err(|_| JwsError::HeaderJson)?;
    if header.get("alg").map(String::as_str) != Some(ALG) {
        return Err(JwsError::UnsupportedAlg);
    }
    if header.contains_key("crit") {
        return Err(JwsError::Critical);
    }
    let mut claim = |name: &'static str| header.remove(name).ok_or(JwsError::MissingClaim(name));
    let claims = Claims {
        uri: claim("uri")?,
        auth_id: claim("auth_id")?,
        method: claim("method")?,
        params: claim("params")?,
    };
    let signature = B64URL
        .decode(signature_segment)
        .ok()
        .and_then(|bytes| <[u8; SIGNATURE_LEN]>::try_from(bytes).ok())
        .ok_or(JwsError::SignatureEncoding)?;
    Ok(Unverified {
        header_segment: header_segment.to_string(),
        payload_segment: payload_segment.to_string(),
        signature,
        claims,
    })
}

impl Unverified {
    /// The partner the token claims to come from, to look up its key. Not authenticated.
    pub fn auth_id(&self) -> &str {
        &self.claims.auth_id
    }

    /// Checks the signature under the partner's `key` over the raw `body` bytes as received,
    /// then that the header names this request: `uri` the path, `method` the HTTP method,
    /// `params` the raw query string (`""` when there is none), each compared exactly.
    ///
    /// The signature is checked first so that `uri_method_mismatch` is only ever said of a
    /// token the partner really signed (a replay against another request, or a signer that
    /// describes the request wrongly); anything altered in transit is `invalid_signature`.
    pub fn verify(
        self,
        key: &[u8],
        method: &str,
        uri: &str,
        params: &str,
        body: &[u8],
    ) -> Result<Claims, JwsError> {
        let body_segment = B64URL.encode(body);
        if !self.payload_segment.is_empty() && self.payload_segment != body_segment {
            return Err(JwsError::PayloadMismatch);
        }
        let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(self.header_segment.as_bytes());
        mac.update(b".");
        mac.update(body_segment.as_bytes());
        let expected = mac.finalize().into_bytes();
        if !bool::from(expected.as_slice().ct_eq(&self.signature)) {
            return Err(JwsError::BadSignature);
        }
        let claims = self.claims;
        if claims.uri != uri {
            return Err(JwsError::UriMismatch);
        }
        if claims.method != method {
            return Err(JwsError::MethodMismatch);
        }
        if claims.params != params {
            return Err(JwsError::ParamsMismatch);
        }
        Ok(claims)
    }
}

/// A JSON object whose values are all strings, refusing repeated names (serde_json would keep
/// the last silently).
struct StringObject(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for StringObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Strings;
        impl<'de> Visitor<'de> for Strings {
            type Value = StringObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringObject, A::Error> {
                let mut entries = BTreeMap::new();
                while let Some((name, value)) = map.next_entry::<String, String>()? {
                    if entries.insert(name, value).is_some() {
                        return Err(A::Error::custom("a repeated name"));
                    }
                }
                Ok(StringObject(entries))
            }
        }
        deserializer.deserialize_map(Strings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "/v5/card-api/request/status";
    const SEED_BODY: &[u8] = br#"{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197ca"}"#;
    const SEED_HEADER: &str = r#"{"uri":"/v5/card-api/request/status","auth_id":"123456","method":"POST","params":"","alg":"HS512"}"#;
    /// The seed's example, which verifies under key `secret`.
    const SEED_SIGNATURE: &str = "eyJ1cmkiOiIvdjUvY2FyZC1hcGkvcmVxdWVzdC9zdGF0dXMiLCJhdXRoX2lkIjoiMTIzNDU2IiwibWV0aG9kIjoiUE9TVCIsInBhcmFtcyI6IiIsImFsZyI6IkhTNTEyIn0..f1sQoeIpX_ZjOaykQzSeylvvKaVrEQV4gNM2ACFbEMkFDUV9Zk5WO1yQGEWez-vnQMVHodLBDVEyh5Xm2-3MjQ";

    /// A detached token over any header text, correctly HMAC'd under `key`: what a partner (or
    /// an attacker holding the key) could send.
    fn token(key: &str, header_json: &str, body: &[u8]) -> String {
        let header = B64URL.encode(header_json);
        let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{header}.{}", B64URL.encode(body)).as_bytes());
        format!("{header}..{}", B64URL.encode(mac.finalize().into_bytes()))
    }

    /// Parses and verifies against the seed's request (POST to [`URI`], no query).
    fn check(value: &str, key: &str, body: &[u8]) -> Result<Claims, JwsError> {
        parse(value)?.verify(key.as_bytes(), "POST", URI, "", body)
    }

    fn seed_claims() -> Claims {
        Claims {
            auth_id: "123456".into(),
            uri: URI.into(),
            method: "POST".into(),
            params: String::new(),
        }
    }

    fn refused(result: Result<Claims, JwsError>) -> (JwsError, &'static str) {
        let error = result.expect_err("must be refused");
        let code = error.code();
        (error, code)
    }

    #[test]
    fn the_seed_example_verifies_with_key_secret() {
        let unverified = parse(SEED_SIGNATURE).unwrap();
        assert_eq!(unverified.auth_id(), "123456");
        let claims = unverified
            .verify(b"secret", "POST", URI, "", SEED_BODY)
            .unwrap();
        assert_eq!(claims, seed_claims());
        // Our test signer agrees with the seed, so the forged variants below are meaningful.
        assert_eq!(token("secret", SEED_HEADER, SEED_BODY), SEED_SIGNATURE);
    }

    /// The fixed string `paylink_sdk::cardapi`'s tests produce (a request with a query string).
    #[test]
    fn the_sdk_fixture_verifies() {
        let fixture = "eyJ1cmkiOiIvdjUvY2FyZC1hcGkvY2FyZC9pbmZvIiwiYXV0aF9pZCI6Ijc3NyIsIm1ldGhvZCI6IlBPU1QiLCJwYXJhbXMiOiJsYW5nPWVuJng9MSIsImFsZyI6IkhTNTEyIn0..7iOghu8METHeTdtPVNOeIn_GC5dLztcm7E9sp-oR1rHNBQn5ooLbAfjrjTsjPIBc5_agx1_0EXLLuMgv482QVw";
        let claims = parse(fixture)
            .unwrap()
            .verify(
                b"partner-key-1",
                "POST",
                "/v5/card-api/card/info",
                "lang=en&x=1",
                br#"{"request_id":"r-1","card_id":"c1"}"#,
            )
            .unwrap();
        assert_eq!(claims.auth_id, "777");
        assert_eq!(claims.params, "lang=en&x=1");
    }

    #[test]
    fn the_sdk_signer_round_trips_with_odd_values() {
        let cases: [(&str, &str, &str, &[u8]); 4] = [
            ("/v5/card-api/card/list", "42", "", b"{}"),
            ("/v5/card-api/client/add", "id \"q\" \\", "a=%2F&b", b""),
            (
                "/v5/cards/issue",
                "ünï/код",
                "x=1",
                "{\"name\":\"Иван\"}".as_bytes(),
            ),
            ("/v5/card-api/card/info", "1", "", b"\x00\xff binary"),
        ];
        for (uri, auth_id, params, body) in cases {
            let value = paylink_sdk::cardapi::sign("k3y", uri, auth_id, "POST", params, body);
            let unverified = parse(&value).unwrap();
            assert_eq!(unverified.auth_id(), auth_id);
            let claims = unverified
                .verify(b"k3y", "POST", uri, params, body)
                .unwrap();
            assert_eq!(claims.uri, uri);
        }
    }

    #[test]
    fn every_changed_body_byte_is_refused() {
        for i in 0..SEED_BODY.len() {
            let mut body = SEED_BODY.to_vec();
            body[i] ^= 0x01;
            assert_eq!(
                refused(check(SEED_SIGNATURE, "secret", &body)),
                (JwsError::BadSignature, "invalid_signature"),
                "byte {i}"
            );
        }
        let mut longer = SEED_BODY.to_vec();
        longer.push(b' ');
        assert_eq!(
            refused(check(SEED_SIGNATURE, "secret", &longer)).1,
            "invalid_signature"
        );
        assert_eq!(
            refused(check(SEED_SIGNATURE, "secret", b"")).1,
            "invalid_signature"
        );
    }

    #[test]
    fn a_changed_header_under_the_old_signature_is_refused() {
        let (_, signature) = SEED_SIGNATURE.split_once("..").unwrap();
        let changed = [
            SEED_HEADER.replace("123456", "123457"),
            SEED_HEADER.replace("request/status", "card/close"),
            SEED_HEADER.replace(r#""params":"""#, r#""params":"a=1""#),
            SEED_HEADER.replace(r#""POST""#, r#""PUT""#),
            // The same claims, re-serialised differently: still not the signed bytes.
            SEED_HEADER.replace(',', ", "),
            SEED_HEADER.replace('/', "\\/"),
            format!(r#"{SEED_HEADER} "#),
        ];
        for header in changed {
            let value = format!("{}..{signature}", B64URL.encode(&header));
            let unverified = parse(&value).unwrap();
            assert_eq!(
                refused(unverified.verify(b"secret", "POST", URI, "", SEED_BODY)),
                (JwsError::BadSignature, "invalid_signature"),
                "{header}"
            );
        }
    }

    #[test]
    fn any_alg_but_hs512_is_refused_even_when_signed() {
        for alg in [
            r#""alg":"none""#,
            r#""alg":"HS256""#,
            r#""alg":"HS384""#,
            r#""alg":"RS512""#,
            r#""alg":"hs512""#,
            r#""alg":"HS512 ""#,
            r#""alg":"""#,
            r#""none":"HS512""#,
        ] {
            let header = SEED_HEADER.replace(r#""alg":"HS512""#, alg);
            assert_eq!(
                refused(check(
                    &token("secret", &header, SEED_BODY),
                    "secret",
                    SEED_BODY
                )),
                (JwsError::UnsupportedAlg, "invalid_signature"),
                "{header}"
            );
        }
        // The classic `none` token: no signature at all.
        let header = SEED_HEADER.replace("HS512", "none");
        let value = format!("{}..", B64URL.encode(header));
        assert_eq!(
            refused(check(&value, "secret", SEED_BODY)),
            (JwsError::UnsupportedAlg, "invalid_signature")
        );
    }

    #[test]
    fn a_missing_or_malformed_signature_part_is_refused() {
        let (header, signature) = SEED_SIGNATURE.split_once("..").unwrap();
        let cases = [
            format!("{header}.."),
            format!("{header}..{}", &signature[..signature.len() - 1]),
            format!("{header}..{}", &signature[..signature.len() - 2]),
            format!("{header}..{signature}AA"),
            format!("{header}..{signature}=="),
            format!(
                "{header}..{}",
                signature.replace('-', "+").replace('_', "/")
            ),
            format!("{header}..{} ", signature),
            format!("{header}..{}", B64URL.encode([0u8; 32])),
        ];
        for value in cases {
            assert_eq!(
                refused(check(&value, "secret", SEED_BODY)),
                (JwsError::SignatureEncoding, "invalid_signature"),
                "{value}"
            );
        }
        // Well-formed but wrong.
        let zeros = format!("{header}..{}", B64URL.encode([0u8; 64]));
        assert_eq!(
            refused(check(&zeros, "secret", SEED_BODY)),
            (JwsError::BadSignature, "invalid_signature")
        );
    }

    #[test]
    fn the_middle_part_is_empty_or_the_body() {
        let (header, signature) = SEED_SIGNATURE.split_once("..").unwrap();
        let attached = format!("{header}.{}.{signature}", B64URL.encode(SEED_BODY));
        assert_eq!(
            check(&attached, "secret", SEED_BODY).unwrap(),
            seed_claims()
        );
        for payload in [
            B64URL.encode(br#"{"request_id":"another"}"#),
            B64URL.encode(&SEED_BODY[1..]),
            // The right body in standard base64 with padding is not its base64url form.
            base64::engine::general_purpose::STANDARD.encode(SEED_BODY),
            "x".to_string(),
        ] {
            let value = format!("{header}.{payload}.{signature}");
            assert_eq!(
                refused(check(&value, "secret", SEED_BODY)),
                (JwsError::PayloadMismatch, "invalid_signature"),
                "{payload}"
            );
        }
        // The attached payload does not replace the body received.
        assert_eq!(
            refused(check(&attached, "secret", b"{}")),
            (JwsError::PayloadMismatch, "invalid_signature")
        );
    }

    #[test]
    fn anything_but_three_parts_is_refused() {
        let (header, signature) = SEED_SIGNATURE.split_once("..").unwrap();
        for value in [
            String::new(),
            ".".to_string(),
            header.to_string(),
            format!("{header}.{signature}"),
            format!("{header}...{signature}"),
            format!("{header}..{signature}."),
            format!(".{header}..{signature}"),
            format!("{SEED_SIGNATURE}.{signature}"),
        ] {
            assert_eq!(
                refused(check(&value, "secret", SEED_BODY)),
                (JwsError::NotDetached, "invalid_signature"),
                "{value}"
            );
        }
    }

    #[test]
    fn a_header_segment_that_is_not_base64url_is_refused() {
        let (header, signature) = SEED_SIGNATURE.split_once("..").unwrap();
        let padded = base64::engine::general_purpose::URL_SAFE.encode(SEED_HEADER);
        assert!(padded.ends_with('='), "the seed header needs padding");
        for segment in [
            padded,
            format!("{header}!"),
            format!(" {header}"),
            header.replacen('J', "\u{416}", 1),
            // A length no number of bytes encodes to.
            format!("{header}AA"),
            // A non-canonical last character (its unused bits set).
            format!("{}1", &header[..header.len() - 1]),
        ] {
            let value = format!("{segment}..{signature}");
            assert_eq!(
                refused(check(&value, "secret", SEED_BODY)),
                (JwsError::HeaderEncoding, "invalid_signature"),
                "{segment}"
            );
        }
        // A header whose base64url has '-': the standard alphabet's '+' is refused, although the
        // same bytes signed in base64url verify.
        let header = SEED_HEADER.replace("123456", "~~~~~~");
        let value = token("secret", &header, SEED_BODY);
        let (segment, signature) = value.split_once("..").unwrap();
        assert!(segment.contains('-'));
        assert_eq!(
            check(&value, "secret", SEED_BODY).unwrap().auth_id,
            "~~~~~~"
        );
        let standard = format!("{}..{signature}", segment.replace('-', "+"));
        assert_eq!(
            refused(check(&standard, "secret", SEED_BODY)),
            (JwsError::HeaderEncoding, "invalid_signature")
        );
    }

    #[test]
    fn a_header_that_is_not_an_object_of_strings_is_refused() {
        let headers = [
            "".to_string(),
            "not json".to_string(),
            SEED_HEADER[..SEED_HEADER.len() - 1].to_string(),
            format!("{SEED_HEADER}{{}}"),
            format!("[{SEED_HEADER}]"),
            r#""HS512""#.to_string(),
            "null".to_string(),
            "12".to_string(),
            SEED_HEADER.replace(r#""123456""#, "123456"),
            SEED_HEADER.replace(r#""""#, "null"),
            SEED_HEADER.replace(r#""""#, "[]"),
            SEED_HEADER.replace(r#""""#, "{}"),
            SEED_HEADER.replace(r#""""#, "false"),
            SEED_HEADER.replace('}', r#","b64":false}"#),
            // A repeated name: parsers disagree on which one counts.
            SEED_HEADER.replace('}', r#","auth_id":"999"}"#),
            SEED_HEADER.replace('}', r#","alg":"HS512"}"#),
        ];
        for header in headers {
            assert_eq!(
                refused(check(
                    &token("secret", &header, SEED_BODY),
                    "secret",
                    SEED_BODY
                )),
                (JwsError::HeaderJson, "invalid_signature"),
                "{header}"
            );
        }
        // Not UTF-8.
        let value = format!(
            "{}..{}",
            B64URL.encode(b"{\"uri\":\"\xff\"}"),
            SEED_SIGNATURE.split_once("..").unwrap().1
        );
        assert_eq!(
            refused(check(&value, "secret", SEED_BODY)),
            (JwsError::HeaderJson, "invalid_signature")
        );
    }

    #[test]
    fn every_claim_is_required() {
        for name in ["uri", "auth_id", "method", "params"] {
            let header = SEED_HEADER.replace(&format!(r#""{name}":"#), r#""other":"#);
            assert_eq!(
                refused(check(
                    &token("secret", &header, SEED_BODY),
                    "secret",
                    SEED_BODY
                )),
                (JwsError::MissingClaim(name), "invalid_signature"),
                "{header}"
            );
        }
    }

    #[test]
    fn crit_extensions_are_refused_and_other_members_are_signed_along() {
        let header = SEED_HEADER.replace('}', r#","crit":"exp"}"#);
        assert_eq!(
            refused(check(
                &token("secret", &header, SEED_BODY),
                "secret",
                SEED_BODY
            )),
            (JwsError::Critical, "invalid_signature")
        );
        let header = SEED_HEADER.replace('}', r#","typ":"JWT","kid":"1"}"#);
        let value = token("secret", &header, SEED_BODY);
        assert_eq!(check(&value, "secret", SEED_BODY).unwrap(), seed_claims());
        // And they are covered by the signature like the rest.
        let forged = format!(
            "{}..{}",
            B64URL.encode(header.replace("JWT", "JWS")),
            value.split_once("..").unwrap().1
        );
        assert_eq!(
            refused(check(&forged, "secret", SEED_BODY)),
            (JwsError::BadSignature, "invalid_signature")
        );
    }

    #[test]
    fn a_genuine_token_for_another_request_is_a_uri_method_mismatch() {
        let verify = |method: &str, uri: &str, params: &str| {
            parse(SEED_SIGNATURE)
                .unwrap()
                .verify(b"secret", method, uri, params, SEED_BODY)
        };
        let cases = [
            ("POST", "/v5/card-api/card/close", "", JwsError::UriMismatch),
            (
                "POST",
                "/v5/card-api/request/status/",
                "",
                JwsError::UriMismatch,
            ),
            (
                "POST",
                "/V5/card-api/request/status",
                "",
                JwsError::UriMismatch,
            ),
            (
                "POST",
                "/v5/card-api/request/status?",
                "",
                JwsError::UriMismatch,
            ),
            ("GET", URI, "", JwsError::MethodMismatch),
            ("post", URI, "", JwsError::MethodMismatch),
            ("POST", URI, "a=1", JwsError::ParamsMismatch),
            ("POST", URI, "=", JwsError::ParamsMismatch),
        ];
        for (method, uri, params, expected) in cases {
            assert_eq!(
                refused(verify(method, uri, params)),
                (expected, "uri_method_mismatch"),
                "{method} {uri}?{params}"
            );
        }
        // A signed query string must be the one received, byte for byte.
        let value = paylink_sdk::cardapi::sign("secret", URI, "1", "POST", "a=1&b=2", SEED_BODY);
        for params in ["", "b=2&a=1", "a=1&b=2&", "a=%31&b=2"] {
            let result = parse(&value)
                .unwrap()
                .verify(b"secret", "POST", URI, params, SEED_BODY);
            assert_eq!(refused(result).1, "uri_method_mismatch", "{params}");
        }
    }

    #[test]
    fn another_key_is_refused() {
        // Not "secret\0": HMAC pads short keys with zeros, so keys differing only by trailing
        // NULs are one key (generated keys have a fixed length and no NULs).
        for key in ["", "secreT", "secret ", "secre", "another partner's key"] {
            assert_eq!(
                refused(check(SEED_SIGNATURE, key, SEED_BODY)),
                (JwsError::BadSignature, "invalid_signature"),
                "{key:?}"
            );
        }
    }

    #[test]
    fn values_over_the_length_bound_are_refused_before_decoding() {
        let signed = |params_len: usize| {
            let params = "p".repeat(params_len);
            let value = paylink_sdk::cardapi::sign("secret", URI, "1", "POST", &params, b"{}");
            (value, params)
        };
        // The longest signed value within the bound verifies; one byte of query more does not.
        let mut len = 2800;
        assert!(signed(len).0.len() <= MAX_HEADER_LEN);
        while signed(len + 1).0.len() <= MAX_HEADER_LEN {
            len += 1;
        }
        let (value, params) = signed(len);
        assert!(value.len() <= MAX_HEADER_LEN && value.len() > MAX_HEADER_LEN - 4);
        let claims = parse(&value)
            .unwrap()
            .verify(b"secret", "POST", URI, &params, b"{}")
            .unwrap();
        assert_eq!(claims.params, params);
        let (value, _) = signed(len + 1);
        assert_eq!(parse(&value).unwrap_err(), JwsError::TooLong);
        let huge = format!("{}{}", "A".repeat(1 << 20), SEED_SIGNATURE);
        assert_eq!(parse(&huge).unwrap_err(), JwsError::TooLong);
        assert_eq!(JwsError::TooLong.code(), "invalid_signature");
    }

    #[test]
    fn codes_and_descriptions() {
        let all = [
            JwsError::Missing,
            JwsError::TooLong,
            JwsError::NotDetached,
            JwsError::HeaderEncoding,
            JwsError::HeaderJson,
            JwsError::MissingClaim("uri"),
            JwsError::UnsupportedAlg,
            JwsError::Critical,
            JwsError::PayloadMismatch,
            JwsError::SignatureEncoding,
            JwsError::BadSignature,
            JwsError::UnknownAuthId,
            JwsError::UriMismatch,
            JwsError::MethodMismatch,
            JwsError::ParamsMismatch,
        ];
        let codes: Vec<&str> = all.iter().map(JwsError::code).collect();
        assert_eq!(
            codes,
            [
                "invalid_signature",
                "invalid_signature",
                "invalid_signature",
                "invalid_signature",
                "invalid_signature",
                "invalid_signature",
                "invalid_signature",
                "invalid_signature",
                "invalid_signature",
                "invalid_signature",
                "invalid_signature",
                "unknown_auth_id",
                "uri_method_mismatch",
                "uri_method_mismatch",
                "uri_method_mismatch",
            ]
        );
        let descriptions: std::collections::BTreeSet<String> =
            all.iter().map(ToString::to_string).collect();
        assert_eq!(
            descriptions.len(),
            all.len(),
            "each failure says what it is"
        );
        assert_eq!(
            JwsError::TooLong.to_string(),
            format!("the X-JWS-Signature header is longer than {MAX_HEADER_LEN} bytes")
        );
        assert_eq!(
            JwsError::MissingClaim("params").to_string(),
            "the JWS header has no \"params\""
        );
    }
}
