//! `GET /v2/account`: the token pre-flight.

use crate::client::Client;
use crate::error::Result;
use crate::models::Account;

impl Client {
    /// The account the token belongs to; a cheap check that the token works.
    pub async fn account(&self) -> Result<Account> {
        self.get("/v2/account", "account").await
    }
}
