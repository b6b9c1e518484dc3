//! Exercises every implemented endpoint (successes and errors), records the exchanges, and checks
//! them against DigitalOcean's OpenAPI spec with `validate_openapi.py` (openapi-core).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{Api, PUBLIC_KEY, start};
use serde_json::{Value, json};
use sim_digitalocean::{PushedTag, SimHandle};

/// The bundled subset of the spec (`scripts/bundle-digitalocean-spec` regenerates it from the full one).
fn spec_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("spec/digitalocean-v2.json")
}

/// A request (method, path with query, body) and the status it must get.
type Check<'a> = (&'a str, &'a str, Option<Value>, u16);

/// Sends each request in order and checks its status.
async fn expect(api: &mut Api, checks: &[Check<'_>]) {
    for (method, path, body, status) in checks {
        let reply = api.call(method, path, body.clone()).await;
        assert_eq!(reply.status, *status, "{method} {path}: {}", reply.body);
    }
}

/// Sends one request, checks its status and returns its body.
async fn checked(api: &mut Api, (method, path, body, status): Check<'_>) -> Value {
    let reply = api.call(method, path, body).await;
    assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
    reply.body
}

/// Calls every endpoint the simulator serves and returns the recorded exchanges.
async fn exercise(api: &mut Api, sim: &SimHandle) {
    // Account, auth, unknown route.
    expect(api, &[("GET", "/v2/account", None, 200)]).await;
    assert_eq!(
        api.call_as(None, "GET", "/v2/account", None).await.status,
        401
    );
    assert_eq!(
        api.call_as(Some("dop_v1_wrong"), "GET", "/v2/droplets", None)
            .await
            .status,
        401
    );

    // SSH keys.
    let new_key = json!({"name": "ci", "public_key": PUBLIC_KEY});
    let key = checked(api, ("POST", "/v2/account/keys", Some(new_key), 201)).await;
    let fingerprint = key["ssh_key"]["fingerprint"].as_str().unwrap().to_owned();
    let key_id = key["ssh_key"]["id"].as_u64().unwrap();
    let key_path = format!("/v2/account/keys/{key_id}");
    expect(
        api,
        &[
            (
                "POST",
                "/v2/account/keys",
                Some(json!({"name": "again", "public_key": PUBLIC_KEY})),
                422,
            ),
            ("GET", "/v2/account/keys", None, 200),
            ("GET", &format!("/v2/account/keys/{fingerprint}"), None, 200),
            ("GET", &key_path, None, 200),
            ("PUT", &key_path, Some(json!({"name": "renamed"})), 200),
            ("GET", "/v2/account/keys/999", None, 404),
        ],
    )
    .await;

    // Tags.
    expect(
        api,
        &[
            ("POST", "/v2/tags", Some(json!({"name": "schwad"})), 201),
            ("POST", "/v2/tags", Some(json!({"name": "bad tag!"})), 400),
            ("GET", "/v2/tags", None, 200),
            ("GET", "/v2/tags/schwad", None, 200),
            ("GET", "/v2/tags/missing", None, 404),
        ],
    )
    .await;

    // Droplets.
    let create = json!({
        "name": "schwad-bot-1", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "docker-20-04",
        "ssh_keys": [fingerprint], "tags": ["schwad", "role:bot"], "user_data": "#cloud-config\n",
        "monitoring": true, "ipv6": true
    });
    let droplet = checked(api, ("POST", "/v2/droplets", Some(create.clone()), 202)).await;
    let droplet_id = droplet["droplet"]["id"].as_u64().unwrap();
    let create_action = droplet["links"]["actions"][0]["id"].as_u64().unwrap();
    let droplet_path = format!("/v2/droplets/{droplet_id}");
    let droplet_actions = format!("/v2/droplets/{droplet_id}/actions");
    let action = |kind: &str| Some(json!({"type": kind}));
    expect(
        api,
        &[
            (
                "POST",
                "/v2/droplets",
                Some(json!({"name": "x", "size": "s-1vcpu-1gb", "image": "docker-99-04"})),
                422,
            ),
            ("POST", "/v2/droplets", Some(json!("not an object")), 400),
            ("GET", "/v2/droplets?tag_name=schwad&per_page=1", None, 200),
            ("GET", "/v2/droplets?name=schwad-bot-1", None, 200),
            ("GET", &droplet_path, None, 200),
            ("GET", "/v2/droplets/1", None, 404),
            // Still being created: busy.
            ("POST", &droplet_actions, action("reboot"), 422),
        ],
    )
    .await;
    api.wait_for(&format!("/v2/actions/{create_action}"), |b| {
        b["action"]["status"] == "completed"
    })
    .await;
    api.wait_for(&droplet_path, |b| b["droplet"]["status"] == "active")
        .await;
    let off = checked(api, ("POST", &droplet_actions, action("power_off"), 201)).await;
    let off_id = off["action"]["id"].as_u64().unwrap();
    expect(api, &[("GET", &droplet_actions, None, 200)]).await;
    api.wait_for(&format!("{droplet_actions}/{off_id}"), |b| {
        b["action"]["status"] == "completed"
    })
    .await;
    let resize = json!({"type": "resize", "size": "s-2vcpu-2gb", "disk": true});
    expect(
        api,
        &[
            ("POST", &droplet_actions, action("power_off"), 422),
            ("POST", &droplet_actions, Some(resize), 201),
        ],
    )
    .await;
    api.wait_for(&droplet_path, |b| {
        b["droplet"]["size_slug"] == "s-2vcpu-2gb" && b["droplet"]["locked"] == false
    })
    .await;
    let snapshot_action = json!({"type": "snapshot", "name": "nightly"});
    expect(
        api,
        &[("POST", &droplet_actions, Some(snapshot_action), 201)],
    )
    .await;
    api.wait_for(&droplet_path, |b| {
        b["droplet"]["snapshot_ids"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    })
    .await;
    expect(api, &[("POST", &droplet_actions, action("power_on"), 201)]).await;
    api.wait_for(&droplet_path, |b| {
        b["droplet"]["status"] == "active" && b["droplet"]["locked"] == false
    })
    .await;

    // Actions; tagging and untagging a droplet.
    let resources =
        json!({"resources": [{"resource_id": droplet_id.to_string(), "resource_type": "droplet"}]});
    expect(
        api,
        &[
            ("GET", "/v2/actions", None, 200),
            ("GET", "/v2/actions/1", None, 404),
            (
                "DELETE",
                "/v2/tags/schwad/resources",
                Some(resources.clone()),
                204,
            ),
            ("POST", "/v2/tags/schwad/resources", Some(resources), 204),
        ],
    )
    .await;

    // Volumes, volume actions, volume snapshots.
    let volume_body = json!({"name": "schwad-data", "size_gigabytes": 10, "region": "nyc3", "filesystem_type": "ext4", "filesystem_label": "data", "description": "ledger", "tags": ["schwad"]});
    let volume = checked(api, ("POST", "/v2/volumes", Some(volume_body.clone()), 201)).await;
    let volume_id = volume["volume"]["id"].as_str().unwrap().to_owned();
    let volume_path = format!("/v2/volumes/{volume_id}");
    let volume_actions = format!("/v2/volumes/{volume_id}/actions");
    let volume_snapshots = format!("/v2/volumes/{volume_id}/snapshots");
    let detach = json!({"type": "detach", "droplet_id": droplet_id, "region": "nyc3"});
    expect(
        api,
        &[
            ("POST", "/v2/volumes", Some(volume_body), 409),
            ("GET", "/v2/volumes?name=schwad-data&region=nyc3", None, 200),
            ("GET", &volume_path, None, 200),
            (
                "GET",
                "/v2/volumes/506f78a4-e098-11e5-ad9f-000f53306ae1",
                None,
                404,
            ),
            // Not attached yet.
            ("POST", &volume_actions, Some(detach), 422),
        ],
    )
    .await;
    let attach = json!({"type": "attach", "droplet_id": droplet_id, "region": "nyc3"});
    let attached = checked(api, ("POST", &volume_actions, Some(attach), 202)).await;
    let attach_id = attached["action"]["id"].as_u64().unwrap();
    expect(api, &[("GET", &volume_actions, None, 200)]).await;
    api.wait_for(&format!("{volume_actions}/{attach_id}"), |b| {
        b["action"]["status"] == "completed"
    })
    .await;
    let new_snapshot = json!({"name": "before-upgrade", "tags": ["schwad"]});
    // Attached: a delete is refused.
    expect(api, &[("DELETE", &volume_path, None, 409)]).await;
    let snapshot = checked(api, ("POST", &volume_snapshots, Some(new_snapshot), 201)).await;
    let snapshot_id = snapshot["snapshot"]["id"].as_str().unwrap().to_owned();
    let by_name = json!({"type": "detach", "droplet_id": droplet_id, "volume_name": "schwad-data", "region": "nyc3"});
    expect(
        api,
        &[
            ("GET", &volume_snapshots, None, 200),
            (
                "GET",
                &format!("/v2/volumes/snapshots/{snapshot_id}"),
                None,
                200,
            ),
            ("POST", "/v2/volumes/actions", Some(by_name), 202),
        ],
    )
    .await;
    api.wait_for(&volume_path, |b| b["volume"]["droplet_ids"] == json!([]))
        .await;
    let grow = json!({"type": "resize", "size_gigabytes": 20, "region": "nyc3"});
    expect(api, &[("POST", &volume_actions, Some(grow), 202)]).await;

    // Snapshots.
    expect(
        api,
        &[
            ("GET", "/v2/snapshots?resource_type=droplet", None, 200),
            ("GET", "/v2/snapshots?resource_type=volume", None, 200),
            ("GET", &format!("/v2/snapshots/{snapshot_id}"), None, 200),
            ("GET", "/v2/snapshots/docker-20-04", None, 400),
            (
                "DELETE",
                &format!("/v2/volumes/snapshots/{snapshot_id}"),
                None,
                204,
            ),
            ("DELETE", &format!("/v2/snapshots/{snapshot_id}"), None, 404),
        ],
    )
    .await;

    // Firewalls.
    let rules = json!({
        "name": "schwad-bot",
        "inbound_rules": [{"protocol": "tcp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}}],
        "outbound_rules": [{"protocol": "tcp", "ports": "0", "destinations": {"addresses": ["0.0.0.0/0", "::/0"]}},
                           {"protocol": "icmp", "ports": "0", "destinations": {"addresses": ["0.0.0.0/0"]}}],
        "droplet_ids": [droplet_id], "tags": ["schwad"]
    });
    let firewall = checked(api, ("POST", "/v2/firewalls", Some(rules.clone()), 202)).await;
    let firewall_id = firewall["firewall"]["id"].as_str().unwrap().to_owned();
    let firewall_path = format!("/v2/firewalls/{firewall_id}");
    expect(
        api,
        &[
            ("POST", "/v2/firewalls", Some(json!({"name": "empty"})), 400),
            ("GET", "/v2/firewalls", None, 200),
            ("GET", &format!("{droplet_path}/firewalls"), None, 200),
        ],
    )
    .await;
    api.wait_for(&firewall_path, |b| b["firewall"]["status"] == "succeeded")
        .await;
    let mut replacement = rules;
    replacement["inbound_rules"] = json!([]);
    replacement["droplet_ids"] = json!([]);
    let members = json!({"droplet_ids": [droplet_id]});
    let tags = json!({"tags": ["schwad"]});
    let rule = json!({"inbound_rules": [{"protocol": "tcp", "ports": "8080", "sources": {"tags": ["schwad"]}}]});
    let firewall_droplets = format!("{firewall_path}/droplets");
    let firewall_tags = format!("{firewall_path}/tags");
    let firewall_rules = format!("{firewall_path}/rules");
    expect(
        api,
        &[
            ("PUT", &firewall_path, Some(replacement), 200),
            ("POST", &firewall_droplets, Some(members.clone()), 204),
            ("DELETE", &firewall_droplets, Some(members), 204),
            (
                "POST",
                &firewall_droplets,
                Some(json!({"droplet_ids": [1]})),
                400,
            ),
            ("DELETE", &firewall_tags, Some(tags.clone()), 204),
            ("POST", &firewall_tags, Some(tags), 204),
            ("POST", &firewall_rules, Some(rule.clone()), 204),
            ("DELETE", &firewall_rules, Some(rule), 204),
            (
                "GET",
                "/v2/firewalls/fb6045f1-cf1d-4ca3-bfac-18832663025b",
                None,
                404,
            ),
            ("DELETE", &firewall_path, None, 204),
        ],
    )
    .await;

    // Container registry.
    let registry = json!({"name": "schwad", "subscription_tier_slug": "basic", "region": "fra1"});
    expect(
        api,
        &[
            ("GET", "/v2/registry", None, 404),
            ("GET", "/v2/registry/options", None, 200),
            ("POST", "/v2/registry", Some(registry.clone()), 201),
            ("POST", "/v2/registry", Some(registry), 409),
            ("GET", "/v2/registry", None, 200),
            (
                "GET",
                "/v2/registry/docker-credentials?read_write=true&expiry_seconds=3600",
                None,
                200,
            ),
            ("GET", "/v2/registry/subscription", None, 200),
        ],
    )
    .await;
    let tier = |slug: &str| Some(json!({"tier_slug": slug}));
    let upgraded = checked(
        api,
        (
            "POST",
            "/v2/registry/subscription",
            tier("professional"),
            200,
        ),
    )
    .await;
    assert_eq!(upgraded["subscription"]["tier"]["slug"], "professional");
    expect(
        api,
        &[("POST", "/v2/registry/subscription", tier("platinum"), 422)],
    )
    .await;
    for (repository, tag) in [("bot", "v1"), ("bot", "v2"), ("tools/ci", "latest")] {
        sim.push_tag(PushedTag {
            repository: repository.to_owned(),
            tag: tag.to_owned(),
            manifest_digest: format!("sha256:{}", "ab".repeat(32)),
            size_bytes: 5_861_888,
        })
        .unwrap();
    }
    let page = checked(
        api,
        (
            "GET",
            "/v2/registry/schwad/repositories/bot/tags?per_page=1",
            None,
            200,
        ),
    )
    .await;
    assert_eq!(page["meta"]["total"], 2);
    assert!(page["links"]["pages"]["next"].is_string());
    let nested = api
        .call(
            "GET",
            "/v2/registry/schwad/repositories/tools%2Fci/tags",
            None,
        )
        .await;
    assert_eq!(nested.body["tags"][0]["repository"], "tools/ci");
    expect(
        api,
        &[
            (
                "GET",
                "/v2/registry/schwad/repositories/none/tags",
                None,
                404,
            ),
            // Two repositories do not fit the starter tier.
            ("POST", "/v2/registry/subscription", tier("starter"), 412),
            ("DELETE", "/v2/registry", None, 204),
            // Deletes.
            ("DELETE", &droplet_path, None, 204),
            ("DELETE", &droplet_path, None, 404),
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    expect(
        api,
        &[
            (
                "DELETE",
                "/v2/volumes?name=schwad-data&region=nyc3",
                None,
                204,
            ),
            ("POST", "/v2/droplets", Some(create), 202),
            ("DELETE", "/v2/droplets?tag_name=role:bot", None, 204),
            ("DELETE", "/v2/tags/schwad", None, 204),
            ("DELETE", &key_path, None, 204),
        ],
    )
    .await;
}

#[tokio::test]
async fn every_endpoint_conforms_to_the_openapi_spec() {
    // Actions take long enough that the "pending event" 422 is seen even on a loaded machine.
    let sim = start(Duration::from_millis(300)).await;
    let mut api = Api::new(&sim);
    exercise(&mut api, &sim).await;

    let report = validate(&api.exchanges);
    assert!(
        report.contains(&format!("{} passed, 0 failed", api.exchanges.len())),
        "{report}"
    );

    // Negative control: the validator must notice a droplet with an impossible status.
    let mut broken: Vec<_> = api
        .exchanges
        .into_iter()
        .filter(|e| e.path.starts_with("/v2/droplets/") && e.status == 200)
        .take(1)
        .collect();
    assert_eq!(broken.len(), 1);
    broken[0].response_body =
        broken[0]
            .response_body
            .replacen("\"status\":\"", "\"status\":\"sleeping-", 1);
    let report = validate(&broken);
    assert!(
        report.contains("0 passed, 1 failed"),
        "the validator missed a broken droplet:\n{report}"
    );
}

/// Runs the Python validator over `exchanges` and returns its output.
fn validate(exchanges: &[common::Exchange]) -> String {
    let records = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(records.path(), serde_json::to_vec(exchanges).unwrap()).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/validate_openapi.py");
    let spec = spec_file();
    assert!(
        spec.exists(),
        "the DigitalOcean spec is missing at {}",
        spec.display()
    );
    let output = Command::new("python3")
        .arg(&script)
        .arg(&spec)
        .arg(records.path())
        .output()
        .expect("python3 is required for the OpenAPI conformance test (pip install -r sim/digitalocean/tests/requirements.txt)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("missing Python package"), "{stderr}");
    assert!(
        stdout.contains(" passed, "),
        "the validator did not run:\n{stdout}\n{stderr}"
    );
    stdout
}
