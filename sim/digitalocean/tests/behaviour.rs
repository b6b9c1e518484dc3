//! Behaviour of the simulator that clients rely on: life cycles, conflicts, pagination, rate
//! limits, faults, request counters and persistence.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::time::Duration;

use common::{Api, start};
use serde_json::{Value, json};
use sim_digitalocean::{Config, Faults, LostResponse, RateLimitConfig, Simulator};

const DELAY: Duration = Duration::from_millis(40);

fn droplet(name: &str) -> Value {
    json!({"name": name, "region": "nyc3", "size": "s-1vcpu-1gb", "image": "docker-20-04", "tags": ["schwad"]})
}

async fn active_droplet(api: &mut Api, name: &str) -> u64 {
    let reply = api.call("POST", "/v2/droplets", Some(droplet(name))).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = reply.body["droplet"]["id"].as_u64().unwrap();
    api.wait_for(&format!("/v2/droplets/{id}"), |b| {
        b["droplet"]["status"] == "active" && b["droplet"]["locked"] == false
    })
    .await;
    id
}

#[tokio::test]
async fn droplet_is_new_without_networks_then_active_with_addresses() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let reply = api.call("POST", "/v2/droplets", Some(droplet("bot"))).await;
    assert_eq!(reply.body["droplet"]["status"], "new");
    assert_eq!(reply.body["droplet"]["networks"]["v4"], json!([]));
    let link = &reply.body["links"]["actions"][0];
    assert_eq!(link["rel"], "create");
    let href = link["href"].as_str().unwrap();
    assert_eq!(
        href,
        format!("{}/v2/actions/{}", sim.base_url(), link["id"])
    );
    let action = api
        .call("GET", &format!("/v2/actions/{}", link["id"]), None)
        .await;
    assert_eq!(action.body["action"]["status"], "in-progress");
    assert_eq!(action.body["action"]["completed_at"], Value::Null);

    let id = reply.body["droplet"]["id"].as_u64().unwrap();
    let body = api
        .wait_for(&format!("/v2/droplets/{id}"), |b| {
            b["droplet"]["status"] == "active"
        })
        .await;
    let v4 = body["droplet"]["networks"]["v4"].as_array().unwrap();
    assert!(v4.iter().any(|n| n["type"] == "public") && v4.iter().any(|n| n["type"] == "private"));
    let action = api
        .call("GET", &format!("/v2/actions/{}", link["id"]), None)
        .await;
    assert_eq!(action.body["action"]["status"], "completed");
    assert!(action.body["action"]["completed_at"].is_string());
}

#[tokio::test]
async fn unknown_image_size_and_region_are_422() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    for (field, value, word) in [
        ("image", "docker-26-04", "image"),
        ("size", "huge", "size"),
        ("region", "mars1", "region"),
    ] {
        let mut body = droplet("bot");
        body[field] = json!(value);
        let reply = api.call("POST", "/v2/droplets", Some(body)).await;
        assert_eq!(reply.status, 422);
        assert!(
            reply.body["message"].as_str().unwrap().contains(word),
            "{}",
            reply.body
        );
    }
    let mut too_big = droplet("bot");
    too_big["user_data"] = json!("x".repeat(64 * 1024 + 1));
    assert_eq!(
        api.call("POST", "/v2/droplets", Some(too_big)).await.status,
        422
    );
    assert_eq!(
        api.call("GET", "/v2/droplets", None).await.body["meta"]["total"],
        0
    );
}

#[tokio::test]
async fn second_action_during_a_pending_one_is_refused() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let id = active_droplet(&mut api, "bot").await;
    let path = format!("/v2/droplets/{id}/actions");
    assert_eq!(
        api.call("POST", &path, Some(json!({"type": "shutdown"})))
            .await
            .status,
        201
    );
    let refused = api
        .call("POST", &path, Some(json!({"type": "power_on"})))
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(
        refused.body["message"],
        "Droplet already has a pending event."
    );
    api.wait_for(&format!("/v2/droplets/{id}"), |b| {
        b["droplet"]["status"] == "off"
    })
    .await;
    let off_again = api
        .call("POST", &path, Some(json!({"type": "power_off"})))
        .await;
    assert_eq!(off_again.status, 422);
    assert!(
        off_again.body["message"]
            .as_str()
            .unwrap()
            .contains("already powered off")
    );
    // A shutdown of a droplet that is off is accepted, as on DigitalOcean.
    assert_eq!(
        api.call("POST", &path, Some(json!({"type": "shutdown"})))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn volume_conflicts_use_digitaloceans_codes_and_texts() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let droplet_id = active_droplet(&mut api, "bot").await;
    let body =
        json!({"name": "ledger", "size_gigabytes": 5, "region": "nyc3", "filesystem_type": "ext4"});
    let volume = api.call("POST", "/v2/volumes", Some(body.clone())).await;
    let volume_id = volume.body["volume"]["id"].as_str().unwrap().to_owned();
    let duplicate = api.call("POST", "/v2/volumes", Some(body.clone())).await;
    assert_eq!(
        (duplicate.status, duplicate.body["id"].as_str().unwrap()),
        (409, "already_exists")
    );
    let mut elsewhere = body;
    elsewhere["region"] = json!("fra1");
    assert_eq!(
        api.call("POST", "/v2/volumes", Some(elsewhere))
            .await
            .status,
        201
    );

    let actions = format!("/v2/volumes/{volume_id}/actions");
    let detach = json!({"type": "detach", "droplet_id": droplet_id, "region": "nyc3"});
    let not_attached = api.call("POST", &actions, Some(detach.clone())).await;
    assert_eq!(
        (
            not_attached.status,
            not_attached.body["message"].as_str().unwrap()
        ),
        (422, "Attachment not found")
    );
    let attach = json!({"type": "attach", "droplet_id": droplet_id, "region": "nyc3"});
    assert_eq!(api.call("POST", &actions, Some(attach)).await.status, 202);
    let busy = api.call("POST", &actions, Some(detach.clone())).await;
    assert_eq!(busy.body["message"], "Droplet already has a pending event.");
    api.wait_for(&format!("/v2/volumes/{volume_id}"), |b| {
        b["volume"]["droplet_ids"] == json!([droplet_id])
    })
    .await;
    let droplet = api
        .call("GET", &format!("/v2/droplets/{droplet_id}"), None)
        .await;
    assert_eq!(droplet.body["droplet"]["volume_ids"], json!([volume_id]));
    let delete = api
        .call("DELETE", &format!("/v2/volumes/{volume_id}"), None)
        .await;
    assert_eq!(delete.status, 409);
    assert!(
        delete.body["message"]
            .as_str()
            .unwrap()
            .contains("Please detach it first")
    );
    // A reboot in flight blocks the detach too.
    api.call(
        "POST",
        &format!("/v2/droplets/{droplet_id}/actions"),
        Some(json!({"type": "reboot"})),
    )
    .await;
    let pending = api.call("POST", &actions, Some(detach)).await;
    assert_eq!(
        pending.body["message"],
        "Droplet already has a pending event."
    );
}

/// A volume made from a volume snapshot: in the snapshot's region, at least its size, with its source's filesystem.
#[tokio::test]
async fn a_volume_from_a_snapshot_stays_in_its_region_and_keeps_its_filesystem() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let source = api
        .call(
            "POST",
            "/v2/volumes",
            Some(json!({"name": "ledger", "size_gigabytes": 5, "region": "nyc3", "filesystem_type": "xfs"})),
        )
        .await;
    let source_id = source.body["volume"]["id"].as_str().unwrap().to_owned();
    let snapshot = api
        .call(
            "POST",
            &format!("/v2/volumes/{source_id}/snapshots"),
            Some(json!({"name": "ledger-1"})),
        )
        .await;
    assert_eq!(snapshot.status, 201, "{:?}", snapshot.body);
    let snapshot_id = snapshot.body["snapshot"]["id"].as_str().unwrap().to_owned();
    let from = |name: &str, size: u64, region: &str| json!({"name": name, "size_gigabytes": size, "region": region, "snapshot_id": snapshot_id, "filesystem_type": "ext4"});
    let elsewhere = api
        .call("POST", "/v2/volumes", Some(from("copy", 5, "fra1")))
        .await;
    assert_eq!(elsewhere.status, 400, "{:?}", elsewhere.body);
    let smaller = api
        .call("POST", "/v2/volumes", Some(from("copy", 4, "nyc3")))
        .await;
    assert_eq!(smaller.status, 400, "{:?}", smaller.body);
    let made = api
        .call("POST", "/v2/volumes", Some(from("copy", 6, "nyc3")))
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert_eq!(made.body["volume"]["filesystem_type"], "xfs");
    let id = made.body["volume"]["id"].as_str().unwrap();
    assert_eq!(sim.volume_source(id), Some(snapshot_id.clone()));
    assert_eq!(sim.volume_source(&source_id), None);
    // The snapshot keeps its filesystem after its volume is gone (a restore after a loss).
    for volume in [id.to_owned(), source_id] {
        let gone = api
            .call("DELETE", &format!("/v2/volumes/{volume}"), None)
            .await;
        assert_eq!(gone.status, 204, "{:?}", gone.body);
    }
    let restored = api
        .call("POST", "/v2/volumes", Some(from("restored", 5, "nyc3")))
        .await;
    assert_eq!(restored.status, 201, "{:?}", restored.body);
    assert_eq!(restored.body["volume"]["filesystem_type"], "xfs");
}

#[tokio::test]
async fn firewall_put_replaces_everything_and_tags_heal_by_hand() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let droplet_id = active_droplet(&mut api, "bot").await;
    let rules = json!({
        "name": "bot", "droplet_ids": [droplet_id],
        "inbound_rules": [{"protocol": "tcp", "ports": "22", "sources": {"addresses": ["0.0.0.0/0"]}}],
        "outbound_rules": [{"protocol": "tcp", "ports": "443", "destinations": {"addresses": ["0.0.0.0/0"]}}]
    });
    let created = api.call("POST", "/v2/firewalls", Some(rules)).await;
    assert_eq!(created.body["firewall"]["status"], "waiting");
    assert_eq!(
        created.body["firewall"]["pending_changes"][0]["droplet_id"],
        droplet_id
    );
    let id = created.body["firewall"]["id"].as_str().unwrap().to_owned();
    api.wait_for(&format!("/v2/firewalls/{id}"), |b| {
        b["firewall"]["status"] == "succeeded"
    })
    .await;
    let only_outbound = json!({"name": "bot", "outbound_rules": [{"protocol": "tcp", "ports": "443", "destinations": {"addresses": ["0.0.0.0/0"]}}]});
    let replaced = api
        .call("PUT", &format!("/v2/firewalls/{id}"), Some(only_outbound))
        .await;
    assert_eq!(replaced.body["firewall"]["droplet_ids"], json!([]));
    assert_eq!(replaced.body["firewall"]["inbound_rules"], json!([]));
    assert_eq!(replaced.body["firewall"]["status"], "waiting");

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
        api.call("GET", "/v2/droplets?tag_name=schwad", None)
            .await
            .body["meta"]["total"],
        0
    );
    assert_eq!(
        api.call("POST", "/v2/tags/SCHWAD/resources", Some(resources))
            .await
            .status,
        204
    );
    let tagged = api.call("GET", "/v2/droplets?tag_name=schwad", None).await;
    assert_eq!(tagged.body["droplets"][0]["tags"], json!(["schwad"]));
}

#[tokio::test]
async fn pagination_links_walk_every_item_once() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    for i in 0..45 {
        api.call(
            "POST",
            "/v2/tags",
            Some(json!({"name": format!("t{i:02}")})),
        )
        .await;
    }
    let first = api.call("GET", "/v2/tags", None).await;
    assert_eq!(first.body["tags"].as_array().unwrap().len(), 20);
    assert_eq!(first.body["meta"]["total"], 45);
    let mut names = Vec::new();
    let mut next = Some(format!("{}/v2/tags?per_page=20", sim.base_url()));
    while let Some(url) = next {
        let path = url.strip_prefix(&sim.base_url()).unwrap().to_owned();
        let page = api.call("GET", &path, None).await;
        names.extend(
            page.body["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned()),
        );
        next = page.body["links"]["pages"]["next"]
            .as_str()
            .map(str::to_owned);
    }
    let expected: Vec<String> = (0..45).map(|i| format!("t{i:02}")).collect();
    assert_eq!(names, expected);
    let last = api.call("GET", "/v2/tags?page=3", None).await;
    assert!(
        last.body["links"]["pages"]["prev"]
            .as_str()
            .unwrap()
            .ends_with("page=2&per_page=20")
    );
    assert!(last.body["links"]["pages"].get("next").is_none());
}

#[tokio::test]
async fn errors_carry_id_message_and_the_request_id_header() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let missing = api.call("GET", "/v2/droplets/42", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["id"], "not_found");
    assert_eq!(missing.body["request_id"], missing.header("x-request-id"));
    assert!(!missing.header("x-request-id").is_empty());
    let anonymous = api.call_as(None, "GET", "/v2/account", None).await;
    assert_eq!(
        (anonymous.status, anonymous.body["id"].as_str().unwrap()),
        (401, "unauthorized")
    );
    assert_eq!(anonymous.body["message"], "Unable to authenticate you.");
    assert!(!anonymous.body.to_string().contains(sim.token()));
    assert_eq!(
        anonymous.header("ratelimit-remaining"),
        missing.header("ratelimit-remaining"),
        "401s carry the headers but cost nothing"
    );
    let wrong_method = api.call("PATCH", "/v2/droplets", None).await;
    assert_eq!(
        (
            wrong_method.status,
            wrong_method.body["id"].as_str().unwrap()
        ),
        (405, "method_not_allowed")
    );
}

#[tokio::test]
async fn ssh_key_list_has_its_own_limit_of_ten_a_minute() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    for _ in 0..10 {
        assert_eq!(api.call("GET", "/v2/account/keys", None).await.status, 200);
    }
    let refused = api.call("GET", "/v2/account/keys", None).await;
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").parse::<u64>().unwrap() > 0);
    assert_eq!(
        api.call("GET", "/v2/account", None).await.status,
        200,
        "other routes are not affected"
    );
}

#[tokio::test]
async fn stalled_create_is_done_before_the_late_504() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    sim.set_faults(Faults {
        lost_responses: 1,
        lost_response_mode: LostResponse::Stall,
        stall_ms: 300,
        ..Faults::default()
    });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let sent = impatient
        .post(format!("{}/v2/droplets", sim.base_url()))
        .bearer_auth(sim.token())
        .json(&droplet("bot"))
        .send()
        .await;
    assert!(sent.unwrap_err().is_timeout());
    assert_eq!(
        api.call("GET", "/v2/droplets?name=bot", None).await.body["meta"]["total"],
        1
    );
}

#[tokio::test]
async fn burst_window_refuses_with_retry_after_and_headers_count_down() {
    let rate_limit = RateLimitConfig {
        limit: 100,
        burst_limit: 3,
        ..RateLimitConfig::default()
    };
    let sim = Simulator::start(Config {
        rate_limit,
        ..Config::default()
    })
    .await
    .unwrap();
    let mut api = Api::new(&sim);
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let reply = api.call("GET", "/v2/account", None).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("ratelimit-limit"), "100");
        remaining.push(reply.header("ratelimit-remaining").parse::<u32>().unwrap());
        assert!(reply.header("ratelimit-reset").parse::<u64>().unwrap() > 1_700_000_000);
    }
    assert_eq!(remaining, [99, 98, 97]);
    let refused = api.call("GET", "/v2/account", None).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["id"], "too_many_requests");
    let retry_after: u64 = refused.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after));
}

#[tokio::test]
async fn exhausted_hourly_window_refuses_without_retry_after() {
    let rate_limit = RateLimitConfig {
        limit: 2,
        ..RateLimitConfig::default()
    };
    let sim = Simulator::start(Config {
        rate_limit,
        ..Config::default()
    })
    .await
    .unwrap();
    let mut api = Api::new(&sim);
    api.call("GET", "/v2/account", None).await;
    api.call("GET", "/v2/account", None).await;
    let refused = api.call("GET", "/v2/account", None).await;
    assert_eq!(
        (refused.status, refused.header("ratelimit-remaining")),
        (429, "0")
    );
    assert_eq!(refused.header("retry-after"), "");
}

#[tokio::test]
async fn storms_and_server_errors_fire_then_stop() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    sim.set_faults(Faults {
        rate_limit_storm: 2,
        storm_retry_after_secs: 1,
        server_errors: 1,
        ..Faults::default()
    });
    let statuses = [
        api.call("GET", "/v2/droplets", None).await,
        api.call("GET", "/v2/droplets", None).await,
        api.call("POST", "/v2/droplets", Some(droplet("bot"))).await,
        api.call("GET", "/v2/droplets", None).await,
    ];
    assert_eq!(
        statuses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 429, 500, 200]
    );
    assert_eq!(statuses[0].header("retry-after"), "1");
    assert_eq!(statuses[2].body["id"], "server_error");
    assert_eq!(
        statuses[3].body["meta"]["total"], 0,
        "a 500 must not have created anything"
    );
    assert_eq!(
        sim.faults(),
        Faults {
            storm_retry_after_secs: 1,
            ..Faults::default()
        }
    );
}

#[tokio::test]
async fn lost_responses_still_create_the_resource() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    for (i, mode) in [LostResponse::GatewayTimeout, LostResponse::ServerError]
        .into_iter()
        .enumerate()
    {
        sim.set_faults(Faults {
            lost_responses: 1,
            lost_response_mode: mode,
            ..Faults::default()
        });
        let reply = api
            .call("POST", "/v2/droplets", Some(droplet(&format!("bot-{i}"))))
            .await;
        assert!(reply.status >= 500, "{mode:?} answered {}", reply.status);
        let found = api
            .call("GET", &format!("/v2/droplets?name=bot-{i}"), None)
            .await;
        assert_eq!(found.body["meta"]["total"], 1, "{mode:?}");
    }
    sim.set_faults(Faults {
        lost_responses: 1,
        lost_response_mode: LostResponse::Disconnect,
        ..Faults::default()
    });
    let client = reqwest::Client::new();
    let sent = client
        .post(format!("{}/v2/volumes", sim.base_url()))
        .bearer_auth(sim.token())
        .json(&json!({"name": "ledger", "size_gigabytes": 5, "region": "nyc3"}))
        .send()
        .await;
    let read = match sent {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(error) => Err(error),
    };
    assert!(read.is_err(), "a cut connection must fail the client");
    let found = api
        .call("GET", "/v2/volumes?name=ledger&region=nyc3", None)
        .await;
    assert_eq!(found.body["meta"]["total"], 1);
}

#[tokio::test]
async fn route_filter_confines_faults_to_one_route() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    sim.set_faults(Faults {
        server_errors: 5,
        route: Some("POST /v2/volumes".into()),
        ..Faults::default()
    });
    assert_eq!(api.call("GET", "/v2/volumes", None).await.status, 200);
    let body = json!({"name": "ledger", "size_gigabytes": 5, "region": "nyc3"});
    assert_eq!(
        api.call("POST", "/v2/volumes", Some(body)).await.status,
        500
    );
}

#[tokio::test]
async fn requests_are_counted_per_route_template() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let id = active_droplet(&mut api, "bot").await;
    api.call("GET", "/v2/volumes", None).await;
    let counts = sim.requests();
    assert_eq!(counts.get("POST /v2/droplets"), 1);
    assert!(counts.get("GET /v2/droplets/{droplet_id}") >= 1);
    assert_eq!(counts.get("GET /v2/volumes"), 1);
    assert_eq!(counts.mutating(), 1);
    sim.reset_requests();
    api.call("GET", &format!("/v2/droplets/{id}"), None).await;
    let over_http: Value = reqwest::get(format!("{}/_sim/requests", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["mutating"], 0);
    assert_eq!(over_http["routes"]["GET /v2/droplets/{droplet_id}"], 1);
    assert_eq!(over_http["total"], 1);
}

#[tokio::test]
async fn faults_and_reset_are_switchable_over_http() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let http = reqwest::Client::new();
    let set = http
        .post(format!("{}/_sim/faults", sim.base_url()))
        .json(&json!({"server_errors": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(api.call("GET", "/v2/account", None).await.status, 500);
    let bad = http
        .post(format!("{}/_sim/faults", sim.base_url()))
        .json(&json!({"nonsense": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    active_droplet(&mut api, "bot").await;
    let reset = http
        .post(format!("{}/_sim/reset", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(
        api.call("GET", "/v2/droplets", None).await.body["meta"]["total"],
        0
    );
}

#[tokio::test]
async fn state_survives_a_restart_through_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("do.json");
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let first = active_droplet(&mut api, "bot").await;
    sim.save(&path).unwrap();
    sim.shutdown().await;

    let sim = Simulator::start_from_file(
        Config {
            action_delay: DELAY,
            ..Config::default()
        },
        &path,
    )
    .await
    .unwrap();
    let mut api = Api::new(&sim);
    let restored = api
        .call("GET", &format!("/v2/droplets/{first}"), None)
        .await;
    assert_eq!(restored.body["droplet"]["status"], "active");
    let second = active_droplet(&mut api, "bot-2").await;
    assert!(second > first, "ids keep counting after a restart");
    std::fs::write(&path, "not json").unwrap();
    assert!(sim.load(&path).is_err());
}

#[tokio::test]
async fn errored_action_fault_ends_the_action_errored_without_its_effect() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let id = active_droplet(&mut api, "bot").await;
    sim.set_faults(Faults {
        errored_actions: 1,
        ..Faults::default()
    });
    let off = api
        .call(
            "POST",
            &format!("/v2/droplets/{id}/actions"),
            Some(json!({"type": "power_off"})),
        )
        .await;
    let action_id = off.body["action"]["id"].as_u64().unwrap();
    let done = api
        .wait_for(&format!("/v2/actions/{action_id}"), |b| {
            b["action"]["status"] != "in-progress"
        })
        .await;
    assert_eq!(done["action"]["status"], "errored");
    let droplet = api.call("GET", &format!("/v2/droplets/{id}"), None).await;
    assert_eq!(droplet.body["droplet"]["status"], "active");
}

#[tokio::test]
async fn removed_firewall_members_show_as_pending_removals() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let id = active_droplet(&mut api, "bot").await;
    let body = json!({
        "name": "bot", "droplet_ids": [id],
        "outbound_rules": [{"protocol": "tcp", "ports": "443", "destinations": {"addresses": ["0.0.0.0/0"]}}]
    });
    let created = api.call("POST", "/v2/firewalls", Some(body)).await;
    let firewall = created.body["firewall"]["id"].as_str().unwrap().to_owned();
    api.wait_for(&format!("/v2/firewalls/{firewall}"), |b| {
        b["firewall"]["status"] == "succeeded"
    })
    .await;
    let members = json!({"droplet_ids": [id]});
    api.call(
        "DELETE",
        &format!("/v2/firewalls/{firewall}/droplets"),
        Some(members),
    )
    .await;
    let waiting = api
        .call("GET", &format!("/v2/firewalls/{firewall}"), None)
        .await;
    assert_eq!(waiting.body["firewall"]["status"], "waiting");
    assert_eq!(
        waiting.body["firewall"]["pending_changes"],
        json!([{"droplet_id": id, "removing": true, "status": "waiting"}])
    );
    let settled = api
        .wait_for(&format!("/v2/firewalls/{firewall}"), |b| {
            b["firewall"]["status"] == "succeeded"
        })
        .await;
    assert_eq!(settled["firewall"]["pending_changes"], json!([]));
}

#[tokio::test]
async fn a_custom_scoped_token_is_refused_routes_outside_its_scopes() {
    let sim = Simulator::start(Config {
        scopes: Some(vec!["account:read".into(), "droplet:read".into()]),
        ..Config::default()
    })
    .await
    .unwrap();
    let mut api = Api::new(&sim);
    assert_eq!(api.call("GET", "/v2/account", None).await.status, 200);
    assert_eq!(api.call("GET", "/v2/droplets", None).await.status, 200);
    let refused = api.call("POST", "/v2/droplets", Some(droplet("x"))).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["id"], "forbidden");
    assert_eq!(api.call("GET", "/v2/registry", None).await.status, 403);
    assert!(
        api.call("GET", "/v2/droplets", None).await.body["droplets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// `volumes` in a droplet create attaches them at creation (the droplet lists them in `volume_ids`, each volume the
/// droplet in `droplet_ids`); a volume in another region, one already attached, or an unknown id is refused with 422
/// and creates nothing.
#[tokio::test]
async fn a_droplet_created_with_volumes_has_them_attached_from_the_start() {
    let sim = start(DELAY).await;
    let mut api = Api::new(&sim);
    let mut ids = Vec::new();
    for region in ["nyc3", "fra1"] {
        let body =
            json!({"name": format!("ledger-{region}"), "size_gigabytes": 5, "region": region});
        let reply = api.call("POST", "/v2/volumes", Some(body)).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        ids.push(reply.body["volume"]["id"].as_str().unwrap().to_owned());
    }
    let (here, there) = (&ids[0], &ids[1]);

    let mut body = droplet("elsewhere");
    body["volumes"] = json!([there]);
    let refused = api.call("POST", "/v2/droplets", Some(body)).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.body["id"], "unprocessable_entity");
    let mut body = droplet("unknown");
    body["volumes"] = json!(["506f78a4-e098-11e5-ad9f-000f53306ae1"]);
    assert_eq!(
        api.call("POST", "/v2/droplets", Some(body)).await.status,
        422
    );
    let listed = api.call("GET", "/v2/droplets", None).await;
    assert_eq!(
        listed.body["droplets"],
        json!([]),
        "a refused create made a droplet"
    );

    let mut body = droplet("bot");
    body["volumes"] = json!([here]);
    let created = api.call("POST", "/v2/droplets", Some(body)).await;
    assert_eq!(created.status, 202, "{}", created.body);
    let droplet_id = created.body["droplet"]["id"].as_u64().unwrap();
    assert_eq!(created.body["droplet"]["volume_ids"], json!([here]));
    let volume = api.call("GET", &format!("/v2/volumes/{here}"), None).await;
    assert_eq!(volume.body["volume"]["droplet_ids"], json!([droplet_id]));
    let other = api.call("GET", &format!("/v2/volumes/{there}"), None).await;
    assert_eq!(other.body["volume"]["droplet_ids"], json!([]));

    // Attached now: a second droplet cannot take it.
    let mut body = droplet("second");
    body["volumes"] = json!([here]);
    assert_eq!(
        api.call("POST", "/v2/droplets", Some(body)).await.status,
        422
    );
    // And it detaches like any attachment once the droplet is active.
    api.wait_for(&format!("/v2/droplets/{droplet_id}"), |b| {
        b["droplet"]["status"] == "active" && b["droplet"]["locked"] == false
    })
    .await;
    let detach = json!({"type": "detach", "droplet_id": droplet_id, "region": "nyc3"});
    let reply = api
        .call("POST", &format!("/v2/volumes/{here}/actions"), Some(detach))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    api.wait_for(&format!("/v2/droplets/{droplet_id}"), |b| {
        b["droplet"]["volume_ids"] == json!([])
    })
    .await;
}

/// The spec names `block_storage:read` for a droplet create's `volumes`: a token without it may create a droplet,
/// not one that takes a volume.
#[tokio::test]
async fn a_droplet_create_with_volumes_needs_the_block_storage_read_scope() {
    let scopes = |extra: &[&str]| {
        let mut scopes: Vec<String> = vec!["droplet:create".into(), "block_storage:create".into()];
        scopes.extend(extra.iter().map(|s| (*s).to_owned()));
        Some(scopes)
    };
    for (held, want) in [(scopes(&[]), 403), (scopes(&["block_storage:read"]), 202)] {
        let sim = Simulator::start(Config {
            scopes: held,
            ..Config::default()
        })
        .await
        .unwrap();
        let mut api = Api::new(&sim);
        let volume = json!({"name": "ledger", "size_gigabytes": 5, "region": "nyc3"});
        let reply = api.call("POST", "/v2/volumes", Some(volume)).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let mut body = droplet("bot");
        body["volumes"] = json!([reply.body["volume"]["id"]]);
        let reply = api.call("POST", "/v2/droplets", Some(body)).await;
        assert_eq!(reply.status, want, "{}", reply.body);
        let bare = api
            .call("POST", "/v2/droplets", Some(droplet("bare")))
            .await;
        assert_eq!(bare.status, 202, "{}", bare.body);
    }
}
