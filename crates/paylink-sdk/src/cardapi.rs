//! The Card API v5's request signature, as a partner's client makes it: the `X-JWS-Signature`
//! header, a detached JWS (HS512) binding the request's path, method, query and raw body to the
//! partner (`docs/card-api.md`).
//!
//! The value is `<b64url(header)>..<b64url(HMAC-SHA512(key, b64url(header) + "." +
//! b64url(body)))>`, base64url without padding, where the header is
//! `{"uri":…,"auth_id":…,"method":…,"params":…,"alg":"HS512"}`: compact, in that key order,
//! `/` not escaped. Partners' own signers serialise it that way, so reproducing their bytes
//! (the seed's example among them) needs exactly that text.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha512;

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
}
