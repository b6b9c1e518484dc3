//! Tags: create, and tag/untag resources (how a removed droplet tag is healed).

use serde::Serialize;

use crate::client::{Call, Client};
use crate::error::Result;
use crate::models::TaggedResource;
use crate::retry::Safety;

#[derive(Debug, Serialize)]
struct TagName<'a> {
    name: &'a str,
}

#[derive(Debug, Serialize)]
struct Resources<'a> {
    resources: &'a [TaggedResource],
}

impl Client {
    /// Creates a tag (creating an existing tag is harmless, so it is retried).
    pub async fn create_tag(&self, name: &str) -> Result<()> {
        self.run(
            Call::post("/v2/tags", &TagName { name }),
            Safety::Idempotent,
        )
        .await
    }

    /// Puts `tag` on resources.
    pub async fn tag_resources(&self, tag: &str, resources: &[TaggedResource]) -> Result<()> {
        let call = Call::post(
            format!("/v2/tags/{tag}/resources"),
            &Resources { resources },
        );
        self.run(call, Safety::Idempotent).await
    }

    /// Takes `tag` off resources.
    pub async fn untag_resources(&self, tag: &str, resources: &[TaggedResource]) -> Result<()> {
        let call = Call::delete(format!("/v2/tags/{tag}/resources")).body(&Resources { resources });
        self.run(call, Safety::Idempotent).await
    }
}
