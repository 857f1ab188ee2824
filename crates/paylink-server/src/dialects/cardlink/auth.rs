//! `Authorization: Bearer <id>|<secret>`: the token's digest is compared in constant time,
//! then the merchant's state decides. The token's owner is read together with the object the
//! request names, so a request costs one read.

use super::error::ApiError;
use crate::ops::OpError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use paylink_core::bill::Bill;
use paylink_core::id::{BillId, PaymentId, ShopId};
use paylink_core::merchant::{Merchant, Shop};
use paylink_core::payment::Payment;
use paylink_core::token::ApiToken;
use paylink_store::TokenOwner;

/// A bearer token of the right shape; nothing has been looked up yet.
pub struct Credentials(ApiToken);

impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
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
        ApiToken::parse(token.trim())
            .map(Credentials)
            .ok_or(ApiError::Unauthenticated)
    }
}

impl Credentials {
    /// The merchant allowed to use the API with this token.
    fn verify(&self, owner: Option<TokenOwner>) -> Result<Merchant, ApiError> {
        let owner = owner.ok_or(ApiError::Unauthenticated)?;
        if !self.0.matches(&owner.secret_sha256) {
            return Err(ApiError::Unauthenticated);
        }
        owner.merchant.check_access()?;
        Ok(owner.merchant)
    }

    pub async fn merchant(&self, st: &AppState) -> Result<Merchant, ApiError> {
        let owner = st
            .store
            .token_owner(self.0.id)
            .await
            .map_err(OpError::from)?;
        self.verify(owner)
    }

    /// The merchant and its bill `id` (`None`: malformed, missing or another merchant's).
    pub async fn with_bill(
        &self,
        st: &AppState,
        id: &str,
    ) -> Result<(Merchant, Option<Bill>), ApiError> {
        let Some(id) = BillId::parse(id) else {
            return Ok((self.merchant(st).await?, None));
        };
        let found = st
            .store
            .token_owner_with_bill(self.0.id, &id)
            .await
            .map_err(OpError::from)?;
        let (owner, bill) = found.map_or((None, None), |(o, b)| (Some(o), b));
        Ok((self.verify(owner)?, bill))
    }

    /// The merchant and its bill `id` with the bill's shop, in one read.
    pub async fn with_bill_and_shop(
        &self,
        st: &AppState,
        id: &str,
    ) -> Result<(Merchant, Option<(Bill, Shop)>), ApiError> {
        let Some(id) = BillId::parse(id) else {
            return Ok((self.merchant(st).await?, None));
        };
        let found = st
            .store
            .token_owner_with_bill_and_shop(self.0.id, &id)
            .await
            .map_err(OpError::from)?;
        let (owner, found) = found.map_or((None, None), |(o, f)| (Some(o), f));
        Ok((self.verify(owner)?, found))
    }

    /// The merchant and its payment `id` (`None`: malformed, missing or another merchant's).
    pub async fn with_payment(
        &self,
        st: &AppState,
        id: &str,
    ) -> Result<(Merchant, Option<Payment>), ApiError> {
        let Some(id) = PaymentId::parse(id) else {
            return Ok((self.merchant(st).await?, None));
        };
        let found = st
            .store
            .token_owner_with_payment(self.0.id, &id)
            .await
            .map_err(OpError::from)?;
        let (owner, payment) = found.map_or((None, None), |(o, p)| (Some(o), p));
        Ok((self.verify(owner)?, payment))
    }

    /// The merchant and the shop `id`, whoever owns it (`None`: malformed or missing).
    pub async fn with_shop(
        &self,
        st: &AppState,
        id: &str,
    ) -> Result<(Merchant, Option<Shop>), ApiError> {
        let Some(id) = ShopId::parse(id) else {
            return Ok((self.merchant(st).await?, None));
        };
        let found = st
            .store
            .token_owner_with_shop(self.0.id, &id)
            .await
            .map_err(OpError::from)?;
        let (owner, shop) = found.map_or((None, None), |(o, s)| (Some(o), s));
        Ok((self.verify(owner)?, shop))
    }
}

/// The authenticated merchant, for requests that name no single object.
pub struct Authed(pub Merchant);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        let credentials = Credentials::from_request_parts(parts, st).await?;
        Ok(Authed(credentials.merchant(st).await?))
    }
}
