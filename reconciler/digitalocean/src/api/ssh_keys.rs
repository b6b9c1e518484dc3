//! SSH keys: list, get by id or fingerprint, and an add that tolerates "already in use".

use reqwest::StatusCode;

use crate::client::{Call, Client, Reply};
use crate::error::Result;
use crate::models::{CreateSshKey, SshKey};

/// The first word and the key material of an OpenSSH public key line (the comment may differ).
fn key_material(line: &str) -> Vec<&str> {
    line.split_whitespace().take(2).collect()
}

impl Client {
    /// Every SSH key (DigitalOcean allows only 10 of these lists a minute).
    pub async fn list_ssh_keys(&self) -> Result<Vec<SshKey>> {
        self.list_all(Call::get("/v2/account/keys"), "ssh_keys")
            .await
    }

    /// One key by id or fingerprint, `None` when absent.
    pub async fn find_ssh_key(&self, id_or_fingerprint: &str) -> Result<Option<SshKey>> {
        self.find(&format!("/v2/account/keys/{id_or_fingerprint}"), "ssh_key")
            .await
    }

    /// Adds a key. A key already on the account (422 "SSH Key is already in use") or a lost
    /// response is resolved by finding the key with the same material.
    pub async fn add_ssh_key(&self, request: &CreateSshKey) -> Result<SshKey> {
        let call = Call::post("/v2/account/keys", request);
        let parse = |reply: &Reply| reply.field::<SshKey>(&call, "ssh_key");
        let lookup = || self.find_ssh_key_by_material(&request.public_key);
        match self.create(&call, "ssh key", parse, lookup).await {
            Err(error) if error.has_status(StatusCode::UNPROCESSABLE_ENTITY) => {
                match self.find_ssh_key_by_material(&request.public_key).await? {
                    Some(existing) => Ok(existing),
                    None => Err(error),
                }
            }
            result => result,
        }
    }

    async fn find_ssh_key_by_material(&self, public_key: &str) -> Result<Option<SshKey>> {
        let wanted = key_material(public_key);
        Ok(self
            .list_ssh_keys()
            .await?
            .into_iter()
            .find(|k| key_material(&k.public_key) == wanted))
    }
}
