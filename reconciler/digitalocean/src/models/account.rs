//! The account (`GET /v2/account`).

use serde::Deserialize;

/// The account the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    /// Most droplets the account may hold.
    pub droplet_limit: u32,
    /// Account e-mail.
    pub email: String,
    /// Account UUID.
    pub uuid: String,
    /// `active`, `warning` or `locked`.
    pub status: String,
    /// Why the status is what it is.
    #[serde(default)]
    pub status_message: String,
}
