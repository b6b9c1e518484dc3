//! The container registry: get, create (no duplicates after a lost response), its subscription tier,
//! repository tags, docker credentials.

use std::time::Duration;

use crate::client::{Call, Client, Reply};
use crate::error::Result;
use serde::Serialize;

use crate::models::{CreateRegistry, DockerCredentials, Registry, RepositoryTag, Subscription};
use crate::retry::Safety;

#[derive(Debug, Serialize)]
struct TierSlug<'a> {
    tier_slug: &'a str,
}

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

    /// The registry's subscription.
    pub async fn registry_subscription(&self) -> Result<Subscription> {
        self.get("/v2/registry/subscription", "subscription").await
    }

    /// Switches the registry to subscription tier `tier` (`starter`, `basic`, `professional`);
    /// setting the current tier again changes nothing, so it is retried.
    pub async fn set_registry_tier(&self, tier: &str) -> Result<Subscription> {
        let call = Call::post("/v2/registry/subscription", &TierSlug { tier_slug: tier });
        self.send(&call, Safety::Idempotent)
            .await?
            .field(&call, "subscription")
    }

    /// Every tag of `repository` (which may contain `/`) in `registry`; `None` when the
    /// repository does not exist.
    pub async fn list_repository_tags(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Option<Vec<RepositoryTag>>> {
        let repository: String =
            url::form_urlencoded::byte_serialize(repository.as_bytes()).collect();
        let call = Call::get(format!(
            "/v2/registry/{registry}/repositories/{repository}/tags"
        ));
        match self.list_all(call, "tags").await {
            Ok(tags) => Ok(Some(tags)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }
}
