//! Custom-scoped tokens: the scope each route needs (from the `security` of DigitalOcean's spec; any one of
//! the listed scopes suffices) and the check that answers 403 without it.

/// Scopes per route (`"METHOD /template"`), in the simulator's route templates.
const REQUIRED: &[(&str, &[&str])] = &[
    ("GET /v2/account", &["account:read"]),
    ("GET /v2/account/keys", &["ssh_key:read"]),
    ("POST /v2/account/keys", &["ssh_key:create"]),
    (
        "GET /v2/account/keys/{ssh_key_identifier}",
        &["ssh_key:read"],
    ),
    (
        "PUT /v2/account/keys/{ssh_key_identifier}",
        &["ssh_key:update"],
    ),
    (
        "DELETE /v2/account/keys/{ssh_key_identifier}",
        &["ssh_key:delete"],
    ),
    ("GET /v2/actions", &["actions:read"]),
    ("GET /v2/actions/{action_id}", &["actions:read"]),
    ("GET /v2/droplets", &["droplet:read"]),
    ("POST /v2/droplets", &["droplet:create"]),
    ("DELETE /v2/droplets", &["droplet:delete"]),
    ("GET /v2/droplets/{droplet_id}", &["droplet:read"]),
    ("DELETE /v2/droplets/{droplet_id}", &["droplet:delete"]),
    ("GET /v2/droplets/{droplet_id}/actions", &["droplet:read"]),
    (
        "POST /v2/droplets/{droplet_id}/actions",
        &["droplet:update"],
    ),
    (
        "GET /v2/droplets/{droplet_id}/actions/{action_id}",
        &["droplet:read"],
    ),
    (
        "GET /v2/droplets/{droplet_id}/firewalls",
        &["firewall:read"],
    ),
    ("GET /v2/firewalls", &["firewall:read"]),
    ("POST /v2/firewalls", &["firewall:create"]),
    ("GET /v2/firewalls/{firewall_id}", &["firewall:read"]),
    ("PUT /v2/firewalls/{firewall_id}", &["firewall:update"]),
    ("DELETE /v2/firewalls/{firewall_id}", &["firewall:delete"]),
    (
        "POST /v2/firewalls/{firewall_id}/droplets",
        &["firewall:update"],
    ),
    (
        "DELETE /v2/firewalls/{firewall_id}/droplets",
        &["firewall:update"],
    ),
    (
        "POST /v2/firewalls/{firewall_id}/tags",
        &["firewall:update"],
    ),
    (
        "DELETE /v2/firewalls/{firewall_id}/tags",
        &["firewall:update"],
    ),
    (
        "POST /v2/firewalls/{firewall_id}/rules",
        &["firewall:update"],
    ),
    (
        "DELETE /v2/firewalls/{firewall_id}/rules",
        &["firewall:update"],
    ),
    ("GET /v2/registry", &["registry:read"]),
    ("POST /v2/registry", &["registry:create"]),
    ("DELETE /v2/registry", &["registry:delete"]),
    ("GET /v2/registry/subscription", &["registry:read"]),
    ("POST /v2/registry/subscription", &["registry:update"]),
    (
        "GET /v2/registry/docker-credentials",
        &["registry:read", "registry:update"],
    ),
    ("GET /v2/registry/options", &["registry:read"]),
    (
        "GET /v2/registry/{registry}/repositories/{repository}/tags",
        &["registry:read"],
    ),
    ("GET /v2/snapshots", &["snapshot:read"]),
    (
        "GET /v2/snapshots/{snapshot_id}",
        &["snapshot:read", "block_storage_snapshot:read"],
    ),
    (
        "DELETE /v2/snapshots/{snapshot_id}",
        &["image:delete", "snapshot:delete"],
    ),
    ("GET /v2/tags", &["tag:read"]),
    ("POST /v2/tags", &["tag:create"]),
    ("GET /v2/tags/{tag_id}", &["tag:read"]),
    ("DELETE /v2/tags/{tag_id}", &["tag:delete"]),
    ("POST /v2/tags/{tag_id}/resources", &["tag:create"]),
    ("DELETE /v2/tags/{tag_id}/resources", &["tag:delete"]),
    (
        "GET /v2/volumes",
        &["api:read", "api:write", "block_storage:read"],
    ),
    ("POST /v2/volumes", &["api:write", "block_storage:create"]),
    ("DELETE /v2/volumes", &["block_storage:delete", "api:write"]),
    (
        "POST /v2/volumes/actions",
        &["block_storage_action:create", "api:write"],
    ),
    (
        "GET /v2/volumes/snapshots/{snapshot_id}",
        &["block_storage_snapshot:read"],
    ),
    (
        "DELETE /v2/volumes/snapshots/{snapshot_id}",
        &["block_storage_snapshot:delete"],
    ),
    ("GET /v2/volumes/{volume_id}", &["block_storage:read"]),
    ("DELETE /v2/volumes/{volume_id}", &["block_storage:delete"]),
    (
        "GET /v2/volumes/{volume_id}/actions",
        &["block_storage_action:read"],
    ),
    (
        "POST /v2/volumes/{volume_id}/actions",
        &["block_storage_action:create"],
    ),
    (
        "GET /v2/volumes/{volume_id}/actions/{action_id}",
        &["block_storage_action:read"],
    ),
    (
        "GET /v2/volumes/{volume_id}/snapshots",
        &["block_storage_snapshot:read"],
    ),
    (
        "POST /v2/volumes/{volume_id}/snapshots",
        &["block_storage_snapshot:create"],
    ),
];

/// Whether a token holding `scopes` (`None`: a full-access token) may call `route`.
pub(crate) fn permits(scopes: Option<&[String]>, route: &str) -> bool {
    let Some(held) = scopes else { return true };
    REQUIRED
        .iter()
        .find(|(r, _)| *r == route)
        .is_none_or(|(_, needed)| needed.iter().any(|n| held.iter().any(|h| h == n)))
}

/// Whether a token holding `scopes` holds `scope` (the spec names a few for parts of a body, e.g. a droplet create's
/// `volumes` needs `block_storage:read`).
pub(crate) fn holds(scopes: Option<&[String]>, scope: &str) -> bool {
    scopes.is_none_or(|held| held.iter().any(|h| h == scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_listed_scope_suffices_and_full_access_needs_none() {
        let read = vec!["block_storage:read".to_owned()];
        assert!(permits(Some(&read), "GET /v2/volumes"));
        assert!(!permits(Some(&read), "POST /v2/volumes"));
        assert!(!permits(Some(&read), "GET /v2/droplets"));
        assert!(permits(None, "POST /v2/volumes"));
    }
}
