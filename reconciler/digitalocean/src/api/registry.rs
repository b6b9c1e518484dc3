//! The container registry: get, create (no duplicates after a lost response), docker credentials.

use std::time::Duration;

use crate::client::{Call, Client, Reply};
use crate::error::Result;
use crate::models::{CreateRegistry, DockerCredentials, Registry};
use crate::retry::Safety;

impl Client {
    /// The account's registry, `None` when there is none.
    pub async fn get_registry(&self) -> Result<Option<Registry>> {
        self.find("/v2/registry", "registry").await
    }

    /// Creates the registry. When the response is lost, it is looked up before any retry.
    pub async fn create_registry(&self, request: &CreateRegistry) -> Result<Registry> {
        let call = Call::post("/v2/registry", request);
        let parse = |reply: &Reply| reply.field::<Registry>(&call, "registry");
        let lookup = || async {
            Ok(self
                .get_registry()
                .await?
                .filter(|r| r.name == request.name))
        };
        self.create(&call, "registry", parse, lookup).await
    }

    /// Docker credentials for the registry; read-write ones for pushing. `expiry` rounds down
    /// to whole seconds; `None` never expires.
    pub async fn docker_credentials(
        &self,
        read_write: bool,
        expiry: Option<Duration>,
    ) -> Result<DockerCredentials> {
        let mut call = Call::get("/v2/registry/docker-credentials").query("read_write", read_write);
        if let Some(expiry) = expiry {
            call = call.query("expiry_seconds", expiry.as_secs());
        }
        self.send(&call, Safety::Idempotent).await?.decode(&call)
    }
}
