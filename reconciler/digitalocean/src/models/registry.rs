//! The container registry.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The account's registry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Registry {
    /// Name (the first path segment of image URLs).
    pub name: String,
    /// Region slug.
    #[serde(default)]
    pub region: String,
    /// The subscription, when the API reports it.
    #[serde(default)]
    pub subscription: Option<Subscription>,
}

impl Registry {
    /// Slug of the subscription tier (`starter`, `basic`, `professional`), when known.
    pub fn tier_slug(&self) -> Option<&str> {
        self.subscription
            .as_ref()
            .and_then(|s| s.tier.as_ref())
            .map(|t| t.slug.as_str())
    }
}

/// A registry's subscription.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Subscription {
    /// Its tier, when the API reports it.
    #[serde(default)]
    pub tier: Option<SubscriptionTier>,
}

/// A subscription tier.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubscriptionTier {
    /// Slug: `starter`, `basic` or `professional`.
    #[serde(default)]
    pub slug: String,
}

/// A tag in a registry repository.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RepositoryTag {
    /// The tag.
    pub tag: String,
    /// Digest (`sha256:...`) of the manifest it points at.
    pub manifest_digest: String,
}

/// The body of `POST /v2/registry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateRegistry {
    /// Name (`^[a-z0-9-]{1,63}$`, globally unique).
    pub name: String,
    /// `starter`, `basic` or `professional`.
    pub subscription_tier_slug: String,
    /// Region slug.
    pub region: String,
}

/// A docker `config.json` (`{"auths": {host: {"auth": base64}}}`); its secrets never print.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerCredentials {
    /// Credentials per registry host.
    pub auths: BTreeMap<String, DockerAuth>,
}

/// Credentials for one registry host.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerAuth {
    /// Base64 of `user:password`.
    pub auth: String,
}

impl fmt::Debug for DockerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerCredentials")
            .field("hosts", &self.auths.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Debug for DockerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DockerAuth(<redacted>)")
    }
}
