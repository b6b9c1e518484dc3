//! Exercises every implemented endpoint (successes and errors), records the exchanges, and checks
//! them against DigitalOcean's OpenAPI spec with `validate_openapi.py` (openapi-core).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{Api, PUBLIC_KEY, start};
use serde_json::json;
use sim_digitalocean::{PushedTag, SimHandle};

/// The bundled subset of the spec (`scripts/bundle-digitalocean-spec` regenerates it from the full one).
fn spec_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("spec/digitalocean-v2.json")
}

/// Calls every endpoint the simulator serves and returns the recorded exchanges.
async fn exercise(api: &mut Api, sim: &SimHandle) {
    // Account, auth, unknown route.
    assert_eq!(api.call("GET", "/v2/account", None).await.status, 200);
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
    let key = api
        .call(
            "POST",
            "/v2/account/keys",
            Some(json!({"name": "ci", "public_key": PUBLIC_KEY})),
        )
        .await;
    assert_eq!(key.status, 201);
    let fingerprint = key.body["ssh_key"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_id = key.body["ssh_key"]["id"].as_u64().unwrap();
    let dup = api
        .call(
            "POST",
            "/v2/account/keys",
            Some(json!({"name": "again", "public_key": PUBLIC_KEY})),
        )
        .await;
    assert_eq!(dup.status, 422);
    assert_eq!(api.call("GET", "/v2/account/keys", None).await.status, 200);
    assert_eq!(
        api.call("GET", &format!("/v2/account/keys/{fingerprint}"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("GET", &format!("/v2/account/keys/{key_id}"), None)
            .await
            .status,
        200
    );
    let renamed = api
        .call(
            "PUT",
            &format!("/v2/account/keys/{key_id}"),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(
        api.call("GET", "/v2/account/keys/999", None).await.status,
        404
    );

    // Tags.
    assert_eq!(
        api.call("POST", "/v2/tags", Some(json!({"name": "schwad"})))
            .await
            .status,
        201
    );
    assert_eq!(
        api.call("POST", "/v2/tags", Some(json!({"name": "bad tag!"})))
            .await
            .status,
        400
    );
    assert_eq!(api.call("GET", "/v2/tags", None).await.status, 200);
    assert_eq!(api.call("GET", "/v2/tags/schwad", None).await.status, 200);
    assert_eq!(api.call("GET", "/v2/tags/missing", None).await.status, 404);

    // Droplets.
    let create = json!({
        "name": "schwad-bot-1", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "docker-20-04",
        "ssh_keys": [fingerprint], "tags": ["schwad", "role:bot"], "user_data": "#cloud-config\n",
        "monitoring": true, "ipv6": true
    });
    let droplet = api.call("POST", "/v2/droplets", Some(create.clone())).await;
    assert_eq!(droplet.status, 202, "{}", droplet.body);
    let droplet_id = droplet.body["droplet"]["id"].as_u64().unwrap();
    let create_action = droplet.body["links"]["actions"][0]["id"].as_u64().unwrap();
    let bad_image = api
        .call(
            "POST",
            "/v2/droplets",
            Some(json!({"name": "x", "size": "s-1vcpu-1gb", "image": "docker-99-04"})),
        )
        .await;
    assert_eq!(bad_image.status, 422);
    assert_eq!(
        api.call("POST", "/v2/droplets", Some(json!("not an object")))
            .await
            .status,
        400
    );
    assert_eq!(
        api.call("GET", "/v2/droplets?tag_name=schwad&per_page=1", None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("GET", "/v2/droplets?name=schwad-bot-1", None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("GET", &format!("/v2/droplets/{droplet_id}"), None)
            .await
            .status,
        200
    );
    assert_eq!(api.call("GET", "/v2/droplets/1", None).await.status, 404);
    let busy = api
        .call(
            "POST",
            &format!("/v2/droplets/{droplet_id}/actions"),
            Some(json!({"type": "reboot"})),
        )
        .await;
    assert_eq!(busy.status, 422);
    api.wait_for(&format!("/v2/actions/{create_action}"), |b| {
        b["action"]["status"] == "completed"
    })
    .await;
    api.wait_for(&format!("/v2/droplets/{droplet_id}"), |b| {
        b["droplet"]["status"] == "active"
    })
    .await;
    let off = api
        .call(
            "POST",
            &format!("/v2/droplets/{droplet_id}/actions"),
            Some(json!({"type": "power_off"})),
        )
        .await;
    assert_eq!(off.status, 201);
    let off_id = off.body["action"]["id"].as_u64().unwrap();
    assert_eq!(
        api.call("GET", &format!("/v2/droplets/{droplet_id}/actions"), None)
            .await
            .status,
        200
    );
    api.wait_for(
        &format!("/v2/droplets/{droplet_id}/actions/{off_id}"),
        |b| b["action"]["status"] == "completed",
    )
    .await;
    let again = api
        .call(
            "POST",
            &format!("/v2/droplets/{droplet_id}/actions"),
            Some(json!({"type": "power_off"})),
        )
        .await;
    assert_eq!(again.status, 422);
    let resize = api
        .call(
            "POST",
            &format!("/v2/droplets/{droplet_id}/actions"),
            Some(json!({"type": "resize", "size": "s-2vcpu-2gb", "disk": true})),
        )
        .await;
    assert_eq!(resize.status, 201);
    api.wait_for(&format!("/v2/droplets/{droplet_id}"), |b| {
        b["droplet"]["size_slug"] == "s-2vcpu-2gb" && b["droplet"]["locked"] == false
    })
    .await;
    let snap = api
        .call(
            "POST",
            &format!("/v2/droplets/{droplet_id}/actions"),
            Some(json!({"type": "snapshot", "name": "nightly"})),
        )
        .await;
    assert_eq!(snap.status, 201);
    api.wait_for(&format!("/v2/droplets/{droplet_id}"), |b| {
        b["droplet"]["snapshot_ids"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    })
    .await;
    let on = api
        .call(
            "POST",
            &format!("/v2/droplets/{droplet_id}/actions"),
            Some(json!({"type": "power_on"})),
        )
        .await;
    assert_eq!(on.status, 201);
    api.wait_for(&format!("/v2/droplets/{droplet_id}"), |b| {
        b["droplet"]["status"] == "active" && b["droplet"]["locked"] == false
    })
    .await;
    assert_eq!(api.call("GET", "/v2/actions", None).await.status, 200);
    assert_eq!(api.call("GET", "/v2/actions/1", None).await.status, 404);

    // Tagging and untagging a droplet.
    let resources =
        json!({"resources": [{"resource_id": droplet_id.to_string(), "resource_type": "droplet"}]});
    assert_eq!(
        api.call(
            "DELETE",
            "/v2/tags/schwad/resources",
            Some(resources.clone())
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.call("POST", "/v2/tags/schwad/resources", Some(resources))
            .await
            .status,
        204
    );

    // Volumes, volume actions, volume snapshots.
    let volume_body = json!({"name": "schwad-data", "size_gigabytes": 10, "region": "nyc3", "filesystem_type": "ext4", "filesystem_label": "data", "description": "ledger", "tags": ["schwad"]});
    let volume = api
        .call("POST", "/v2/volumes", Some(volume_body.clone()))
        .await;
    assert_eq!(volume.status, 201, "{}", volume.body);
    let volume_id = volume.body["volume"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.call("POST", "/v2/volumes", Some(volume_body))
            .await
            .status,
        409
    );
    assert_eq!(
        api.call("GET", "/v2/volumes?name=schwad-data&region=nyc3", None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("GET", &format!("/v2/volumes/{volume_id}"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call(
            "GET",
            "/v2/volumes/506f78a4-e098-11e5-ad9f-000f53306ae1",
            None
        )
        .await
        .status,
        404
    );
    let detach = json!({"type": "detach", "droplet_id": droplet_id, "region": "nyc3"});
    assert_eq!(
        api.call(
            "POST",
            &format!("/v2/volumes/{volume_id}/actions"),
            Some(detach.clone())
        )
        .await
        .status,
        422
    );
    let attach = json!({"type": "attach", "droplet_id": droplet_id, "region": "nyc3"});
    let attached = api
        .call(
            "POST",
            &format!("/v2/volumes/{volume_id}/actions"),
            Some(attach),
        )
        .await;
    assert_eq!(attached.status, 202, "{}", attached.body);
    let attach_id = attached.body["action"]["id"].as_u64().unwrap();
    assert_eq!(
        api.call("GET", &format!("/v2/volumes/{volume_id}/actions"), None)
            .await
            .status,
        200
    );
    api.wait_for(
        &format!("/v2/volumes/{volume_id}/actions/{attach_id}"),
        |b| b["action"]["status"] == "completed",
    )
    .await;
    assert_eq!(
        api.call("DELETE", &format!("/v2/volumes/{volume_id}"), None)
            .await
            .status,
        409
    );
    let snapshot = api
        .call(
            "POST",
            &format!("/v2/volumes/{volume_id}/snapshots"),
            Some(json!({"name": "before-upgrade", "tags": ["schwad"]})),
        )
        .await;
    assert_eq!(snapshot.status, 201);
    let snapshot_id = snapshot.body["snapshot"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.call("GET", &format!("/v2/volumes/{volume_id}/snapshots"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("GET", &format!("/v2/volumes/snapshots/{snapshot_id}"), None)
            .await
            .status,
        200
    );
    let by_name = json!({"type": "detach", "droplet_id": droplet_id, "volume_name": "schwad-data", "region": "nyc3"});
    let detached = api.call("POST", "/v2/volumes/actions", Some(by_name)).await;
    assert_eq!(detached.status, 202);
    api.wait_for(&format!("/v2/volumes/{volume_id}"), |b| {
        b["volume"]["droplet_ids"] == json!([])
    })
    .await;
    let grow = api
        .call(
            "POST",
            &format!("/v2/volumes/{volume_id}/actions"),
            Some(json!({"type": "resize", "size_gigabytes": 20, "region": "nyc3"})),
        )
        .await;
    assert_eq!(grow.status, 202);

    // Snapshots.
    assert_eq!(
        api.call("GET", "/v2/snapshots?resource_type=droplet", None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("GET", "/v2/snapshots?resource_type=volume", None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("GET", &format!("/v2/snapshots/{snapshot_id}"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("GET", "/v2/snapshots/docker-20-04", None)
            .await
            .status,
        400
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/v2/volumes/snapshots/{snapshot_id}"),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.call("DELETE", &format!("/v2/snapshots/{snapshot_id}"), None)
            .await
            .status,
        404
    );

    // Firewalls.
    let rules = json!({
        "name": "schwad-bot",
        "inbound_rules": [{"protocol": "tcp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}}],
        "outbound_rules": [{"protocol": "tcp", "ports": "0", "destinations": {"addresses": ["0.0.0.0/0", "::/0"]}},
                           {"protocol": "icmp", "ports": "0", "destinations": {"addresses": ["0.0.0.0/0"]}}],
        "droplet_ids": [droplet_id], "tags": ["schwad"]
    });
    let firewall = api.call("POST", "/v2/firewalls", Some(rules.clone())).await;
    assert_eq!(firewall.status, 202, "{}", firewall.body);
    let firewall_id = firewall.body["firewall"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.call("POST", "/v2/firewalls", Some(json!({"name": "empty"})))
            .await
            .status,
        400
    );
    assert_eq!(api.call("GET", "/v2/firewalls", None).await.status, 200);
    assert_eq!(
        api.call("GET", &format!("/v2/droplets/{droplet_id}/firewalls"), None)
            .await
            .status,
        200
    );
    api.wait_for(&format!("/v2/firewalls/{firewall_id}"), |b| {
        b["firewall"]["status"] == "succeeded"
    })
    .await;
    let mut replacement = rules.clone();
    replacement["inbound_rules"] = json!([]);
    replacement["droplet_ids"] = json!([]);
    assert_eq!(
        api.call(
            "PUT",
            &format!("/v2/firewalls/{firewall_id}"),
            Some(replacement)
        )
        .await
        .status,
        200
    );
    let members = json!({"droplet_ids": [droplet_id]});
    assert_eq!(
        api.call(
            "POST",
            &format!("/v2/firewalls/{firewall_id}/droplets"),
            Some(members.clone())
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/v2/firewalls/{firewall_id}/droplets"),
            Some(members)
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.call(
            "POST",
            &format!("/v2/firewalls/{firewall_id}/droplets"),
            Some(json!({"droplet_ids": [1]}))
        )
        .await
        .status,
        400
    );
    let tags = json!({"tags": ["schwad"]});
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/v2/firewalls/{firewall_id}/tags"),
            Some(tags.clone())
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.call(
            "POST",
            &format!("/v2/firewalls/{firewall_id}/tags"),
            Some(tags)
        )
        .await
        .status,
        204
    );
    let rule = json!({"inbound_rules": [{"protocol": "tcp", "ports": "8080", "sources": {"tags": ["schwad"]}}]});
    assert_eq!(
        api.call(
            "POST",
            &format!("/v2/firewalls/{firewall_id}/rules"),
            Some(rule.clone())
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/v2/firewalls/{firewall_id}/rules"),
            Some(rule)
        )
        .await
        .status,
        204
    );
    assert_eq!(
        api.call(
            "GET",
            "/v2/firewalls/fb6045f1-cf1d-4ca3-bfac-18832663025b",
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        api.call("DELETE", &format!("/v2/firewalls/{firewall_id}"), None)
            .await
            .status,
        204
    );

    // Container registry.
    assert_eq!(api.call("GET", "/v2/registry", None).await.status, 404);
    assert_eq!(
        api.call("GET", "/v2/registry/options", None).await.status,
        200
    );
    let registry = json!({"name": "schwad", "subscription_tier_slug": "basic", "region": "fra1"});
    assert_eq!(
        api.call("POST", "/v2/registry", Some(registry.clone()))
            .await
            .status,
        201
    );
    assert_eq!(
        api.call("POST", "/v2/registry", Some(registry))
            .await
            .status,
        409
    );
    assert_eq!(api.call("GET", "/v2/registry", None).await.status, 200);
    assert_eq!(
        api.call(
            "GET",
            "/v2/registry/docker-credentials?read_write=true&expiry_seconds=3600",
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        api.call("GET", "/v2/registry/subscription", None)
            .await
            .status,
        200
    );
    let upgraded = api
        .call(
            "POST",
            "/v2/registry/subscription",
            Some(json!({"tier_slug": "professional"})),
        )
        .await;
    assert_eq!(upgraded.status, 200);
    assert_eq!(
        upgraded.body["subscription"]["tier"]["slug"],
        "professional"
    );
    assert_eq!(
        api.call(
            "POST",
            "/v2/registry/subscription",
            Some(json!({"tier_slug": "platinum"}))
        )
        .await
        .status,
        422
    );
    for (repository, tag) in [("bot", "v1"), ("bot", "v2"), ("tools/ci", "latest")] {
        sim.push_tag(PushedTag {
            repository: repository.to_owned(),
            tag: tag.to_owned(),
            manifest_digest: format!("sha256:{}", "ab".repeat(32)),
            size_bytes: 5_861_888,
        })
        .unwrap();
    }
    let page = api
        .call(
            "GET",
            "/v2/registry/schwad/repositories/bot/tags?per_page=1",
            None,
        )
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body["meta"]["total"], 2);
    assert!(page.body["links"]["pages"]["next"].is_string());
    let nested = api
        .call(
            "GET",
            "/v2/registry/schwad/repositories/tools%2Fci/tags",
            None,
        )
        .await;
    assert_eq!(nested.body["tags"][0]["repository"], "tools/ci");
    assert_eq!(
        api.call("GET", "/v2/registry/schwad/repositories/none/tags", None)
            .await
            .status,
        404
    );
    // Two repositories do not fit the starter tier.
    assert_eq!(
        api.call(
            "POST",
            "/v2/registry/subscription",
            Some(json!({"tier_slug": "starter"}))
        )
        .await
        .status,
        412
    );
    assert_eq!(api.call("DELETE", "/v2/registry", None).await.status, 204);

    // Deletes.
    assert_eq!(
        api.call("DELETE", &format!("/v2/droplets/{droplet_id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        api.call("DELETE", &format!("/v2/droplets/{droplet_id}"), None)
            .await
            .status,
        404
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(
        api.call("DELETE", "/v2/volumes?name=schwad-data&region=nyc3", None)
            .await
            .status,
        204
    );
    let second = api.call("POST", "/v2/droplets", Some(create)).await;
    assert_eq!(second.status, 202);
    assert_eq!(
        api.call("DELETE", "/v2/droplets?tag_name=role:bot", None)
            .await
            .status,
        204
    );
    assert_eq!(
        api.call("DELETE", "/v2/tags/schwad", None).await.status,
        204
    );
    assert_eq!(
        api.call("DELETE", &format!("/v2/account/keys/{key_id}"), None)
            .await
            .status,
        204
    );
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
