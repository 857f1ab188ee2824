//! `Authorization: Bearer <id>|<secret>`: the token's digest is compared in constant time,
//! then the merchant's state decides.

use super::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use paylink_core::merchant::Merchant;
use paylink_core::token::ApiToken;

/// The authenticated merchant, allowed to use the API.
pub struct Authed(pub Merchant);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthenticated)?;
        let (scheme, token) = header
            .trim()
            .split_once(' ')
            .ok_or(ApiError::Unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::Unauthenticated);
        }
        let token = ApiToken::parse(token.trim()).ok_or(ApiError::Unauthenticated)?;
        let owner = st
            .store
            .token_owner(token.id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "token lookup failed");
                ApiError::Internal
            })?
            .ok_or(ApiError::Unauthenticated)?;
        if !token.matches(&owner.secret_sha256) {
            return Err(ApiError::Unauthenticated);
        }
        owner.merchant.check_access()?;
        Ok(Authed(owner.merchant))
    }
}
