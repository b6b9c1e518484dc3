//! SSH keys of the account.

use serde::{Deserialize, Serialize};

/// An SSH key; droplet creates name keys by id or fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SshKey {
    /// Key id.
    pub id: u64,
    /// MD5 fingerprint, `3b:16:bf:...`.
    pub fingerprint: String,
    /// The OpenSSH public key line.
    pub public_key: String,
    /// Display name.
    pub name: String,
}

/// The body of `POST /v2/account/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateSshKey {
    /// Display name.
    pub name: String,
    /// The OpenSSH public key line.
    pub public_key: String,
}
