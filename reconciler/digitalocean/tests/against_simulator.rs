//! The client against the DigitalOcean simulator: pagination, faults survived without
//! duplicates, pending events, rate-limit pacing, error formatting and request counts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::time::{Duration, Instant};

use digitalocean_api::models::{
    CreateDroplet, CreateRegistry, CreateSshKey, CreateVolume, DropletAction, DropletStatus,
    Filesystem, FirewallSpec, InboundRule, OutboundRule, TaggedResource, Targets,
};
use digitalocean_api::{BudgetPolicy, Client, ClientConfig, PollPolicy, RetryPolicy, Token};
use sim_digitalocean::{
    Config, Faults, LostResponse, PushedTag, RateLimitConfig, SimHandle, Simulator,
};

const ACTION_DELAY: Duration = Duration::from_millis(60);

async fn simulator() -> SimHandle {
    let rate_limit = RateLimitConfig {
        burst_limit: 10_000,
        limit: 10_000,
        ..RateLimitConfig::default()
    };
    Simulator::start(Config {
        action_delay: ACTION_DELAY,
        rate_limit,
        ..Config::default()
    })
    .await
    .unwrap()
}

fn config(sim: &SimHandle) -> ClientConfig {
    let mut config = ClientConfig::new(Token::new(sim.token())).with_base_url(sim.base_url());
    config.retry = RetryPolicy {
        max_attempts: 6,
        initial_interval: Duration::from_millis(5),
        max_interval: Duration::from_millis(40),
        ..RetryPolicy::default()
    };
    config.poll = PollPolicy {
        interval: Duration::from_millis(15),
        timeout: Duration::from_secs(5),
        pending_event_timeout: Duration::from_secs(5),
    };
    config
}

fn client(sim: &SimHandle) -> Client {
    Client::new(config(sim)).unwrap()
}

fn droplet(name: &str) -> CreateDroplet {
    CreateDroplet {
        name: name.into(),
        region: "nyc3".into(),
        size: "s-1vcpu-1gb".into(),
        image: "docker-20-04".into(),
        ssh_keys: Vec::new(),
        tags: vec!["schwad".into()],
        user_data: Some("#cloud-config\nruncmd: [echo hi]\n".into()),
        volumes: Vec::new(),
        monitoring: true,
        ipv6: false,
    }
}

fn volume(name: &str) -> CreateVolume {
    CreateVolume {
        name: name.into(),
        region: "nyc3".into(),
        size_gigabytes: 10,
        filesystem_type: Some(Filesystem::Ext4),
        filesystem_label: Some("ledger".into()),
        description: String::new(),
        tags: vec!["schwad".into()],
        snapshot_id: None,
    }
}

#[tokio::test]
async fn token_preflight_and_errors_show_do_fields_but_never_the_token() {
    let sim = simulator().await;
    let account = client(&sim).account().await.unwrap();
    assert_eq!(account.status, "active");

    let secret = "dop_v1_not_the_right_one";
    let wrong =
        Client::new(ClientConfig::new(Token::new(secret)).with_base_url(sim.base_url())).unwrap();
    let error = wrong.account().await.unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(
        (api.status.as_u16(), api.id.as_str()),
        (401, "unauthorized")
    );
    let text = error.to_string();
    assert!(
        text.contains("401 unauthorized: Unable to authenticate you."),
        "{text}"
    );
    assert!(text.contains("request_id "), "{text}");
    assert!(!text.contains(secret) && !format!("{error:?}").contains(secret));
    assert!(!format!("{wrong:?}").contains(secret));
}

#[tokio::test]
async fn invalid_create_reports_id_message_and_request_id() {
    let sim = simulator().await;
    let mut request = droplet("bot");
    request.image = "docker-26-04".into();
    let error = client(&sim).create_droplet(&request).await.unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.id, "unprocessable_entity");
    assert_eq!(
        api.message,
        "You specified an invalid image for Droplet creation."
    );
    assert!(api.request_id.as_deref().is_some_and(|id| id.len() == 36));
    assert_eq!(
        sim.requests().get("POST /v2/droplets"),
        1,
        "a 422 is not retried"
    );
}

#[tokio::test]
async fn lists_follow_pagination_to_the_end_with_one_call_per_page() {
    let sim = simulator().await;
    let client = client(&sim);
    for i in 0..205 {
        let mut request = volume(&format!("v{i:03}"));
        request.filesystem_type = None;
        request.filesystem_label = None;
        client.create_volume(&request).await.unwrap();
    }
    sim.reset_requests();
    let volumes = client.list_volumes(None, None).await.unwrap();
    assert_eq!(volumes.len(), 205);
    let mut names: Vec<_> = volumes.iter().map(|v| v.name.clone()).collect();
    names.dedup();
    assert_eq!(names.len(), 205, "no page read twice");
    assert_eq!(sim.requests().get("GET /v2/volumes"), 2);
    assert_eq!(sim.requests().mutating(), 0);
}

#[tokio::test]
async fn storms_and_server_errors_are_survived_without_duplicates() {
    let sim = simulator().await;
    let client = client(&sim);
    sim.set_faults(Faults {
        rate_limit_storm: 3,
        server_errors: 3,
        ..Faults::default()
    });
    // A storm's 429s say `remaining: 0` with a `retry-after`: the client must follow the
    // `retry-after`, not sleep until the hourly reset.
    let created = tokio::time::timeout(
        Duration::from_secs(10),
        client.create_droplet(&droplet("bot")),
    )
    .await
    .expect("stalled on a 429 storm")
    .unwrap();
    let all = client.list_droplets_by_tag("schwad").await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, created.droplet.id);
    sim.set_faults(Faults {
        server_errors: 2,
        rate_limit_storm: 2,
        ..Faults::default()
    });
    let found = client.list_droplets_by_name("bot").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(sim.faults().server_errors, 0);
}

#[tokio::test]
async fn lost_create_responses_are_looked_up_not_repeated() {
    let sim = simulator().await;
    let client = client(&sim);
    let modes = [
        LostResponse::GatewayTimeout,
        LostResponse::ServerError,
        LostResponse::Disconnect,
        // A 2xx whose body is not the API's: carried out, so looked up too.
        LostResponse::Garbled,
    ];
    for (i, mode) in modes.into_iter().enumerate() {
        sim.set_faults(Faults {
            lost_responses: 1,
            lost_response_mode: mode,
            ..Faults::default()
        });
        let name = format!("bot-{i}");
        let created = client.create_droplet(&droplet(&name)).await.unwrap();
        assert_eq!(created.droplet.name, name, "{mode:?}");
        assert_eq!(created.action_id, None, "{mode:?}: recovered by lookup");
        assert_eq!(
            client.list_droplets_by_name(&name).await.unwrap().len(),
            1,
            "{mode:?}"
        );

        let volume_name = format!("ledger-{i}");
        sim.set_faults(Faults {
            lost_responses: 1,
            lost_response_mode: mode,
            ..Faults::default()
        });
        let made = client.create_volume(&volume(&volume_name)).await.unwrap();
        assert_eq!(made.name, volume_name);
        assert_eq!(
            client
                .list_volumes(Some(&volume_name), Some("nyc3"))
                .await
                .unwrap()
                .len(),
            1
        );

        // Untagged: DigitalOcean lists its `tags` as `null`, which the lookup must read.
        sim.set_faults(Faults {
            lost_responses: 1,
            lost_response_mode: mode,
            ..Faults::default()
        });
        let snapshot = client
            .create_volume_snapshot(&made.id, &format!("before-{i}"), &[])
            .await
            .unwrap();
        assert!(snapshot.tags.is_empty(), "{mode:?}");
        assert_eq!(
            client.list_volume_snapshots(&made.id).await.unwrap().len(),
            1,
            "{mode:?}"
        );
    }
    let counts = sim.requests();
    assert_eq!(
        counts.get("POST /v2/droplets"),
        4,
        "one create per droplet, never a retry"
    );
    assert_eq!(counts.get("POST /v2/volumes"), 4);
    assert_eq!(counts.get("POST /v2/volumes/{volume_id}/snapshots"), 4);
}

#[tokio::test]
async fn timed_out_create_is_looked_up_not_repeated() {
    let sim = simulator().await;
    let mut config = config(&sim);
    config.request_timeout = Duration::from_millis(150);
    let client = Client::new(config).unwrap();
    sim.set_faults(Faults {
        lost_responses: 1,
        lost_response_mode: LostResponse::Stall,
        stall_ms: 600,
        ..Faults::default()
    });
    let created = client.create_droplet(&droplet("bot")).await.unwrap();
    assert_eq!(
        created.action_id, None,
        "recovered by lookup after the timeout"
    );
    assert_eq!(client.list_droplets_by_name("bot").await.unwrap().len(), 1);
    assert_eq!(sim.requests().get("POST /v2/droplets"), 1);
}

#[tokio::test]
async fn lost_action_response_is_found_among_the_droplets_actions() {
    let sim = simulator().await;
    let client = client(&sim);
    let created = client.create_droplet(&droplet("bot")).await.unwrap();
    client
        .wait_for_droplet_active(created.droplet.id)
        .await
        .unwrap();
    sim.set_faults(Faults {
        lost_responses: 1,
        ..Faults::default()
    });
    let action = client
        .droplet_action(created.droplet.id, &DropletAction::Shutdown)
        .await
        .unwrap();
    assert_eq!(action.kind, "shutdown");
    assert_eq!(
        sim.requests().get("POST /v2/droplets/{droplet_id}/actions"),
        1
    );
    client.wait_for_action(action.id).await.unwrap();
    assert_eq!(
        client.get_droplet(created.droplet.id).await.unwrap().status,
        DropletStatus::Off
    );
}

#[tokio::test]
async fn pending_event_is_waited_out() {
    let sim = simulator().await;
    let client = client(&sim);
    let created = client.create_droplet(&droplet("bot")).await.unwrap();
    // The create action is still running: the first power_off gets 422 pending event.
    let started = Instant::now();
    let off = client
        .droplet_action(created.droplet.id, &DropletAction::PowerOff)
        .await
        .unwrap();
    assert!(started.elapsed() >= ACTION_DELAY / 2);
    assert!(sim.requests().get("POST /v2/droplets/{droplet_id}/actions") >= 2);
    let done = client.wait_for_action(off.id).await.unwrap();
    assert!(done.completed_at.is_some());
    let resize = DropletAction::Resize {
        size: "s-2vcpu-2gb".into(),
        disk: false,
    };
    let resized = client
        .droplet_action(created.droplet.id, &resize)
        .await
        .unwrap();
    client.wait_for_action(resized.id).await.unwrap();
    let droplet = client.get_droplet(created.droplet.id).await.unwrap();
    assert_eq!(
        (droplet.size_slug.as_str(), droplet.status),
        ("s-2vcpu-2gb", DropletStatus::Off)
    );
}

#[tokio::test]
async fn droplet_becomes_active_with_addresses() {
    let sim = simulator().await;
    let client = client(&sim);
    let created = client.create_droplet(&droplet("bot")).await.unwrap();
    assert_eq!(created.droplet.status, DropletStatus::New);
    let action = client
        .wait_for_action(created.action_id.unwrap())
        .await
        .unwrap();
    assert_eq!(action.kind, "create");
    let active = client
        .wait_for_droplet_active(created.droplet.id)
        .await
        .unwrap();
    assert!(active.public_ipv4().is_some() && active.private_ipv4().is_some());
    client.delete_droplet(active.id).await.unwrap();
    assert!(client.find_droplet(active.id).await.unwrap().is_none());
}

#[tokio::test]
async fn volumes_attach_detach_resize_and_snapshot() {
    let sim = simulator().await;
    let client = client(&sim);
    let created = client.create_droplet(&droplet("bot")).await.unwrap();
    let ledger = client.create_volume(&volume("ledger")).await.unwrap();
    // The droplet is still booting: the attach waits for the pending event.
    let attach = client
        .attach_volume(&ledger.id, created.droplet.id, "nyc3")
        .await
        .unwrap();
    client.wait_for_action(attach.id).await.unwrap();
    assert_eq!(
        client.get_volume(&ledger.id).await.unwrap().droplet_ids,
        vec![created.droplet.id]
    );
    let conflict = client.delete_volume(&ledger.id).await.unwrap_err();
    assert_eq!(conflict.api().unwrap().status.as_u16(), 409);
    let detach = client
        .detach_volume(&ledger.id, created.droplet.id, "nyc3")
        .await
        .unwrap();
    client.wait_for_action(detach.id).await.unwrap();
    let missing = client
        .detach_volume(&ledger.id, created.droplet.id, "nyc3")
        .await
        .unwrap_err();
    assert_eq!(missing.api().unwrap().message, "Attachment not found");
    let grow = client.resize_volume(&ledger.id, 20, "nyc3").await.unwrap();
    client.wait_for_action(grow.id).await.unwrap();
    assert_eq!(
        client.get_volume(&ledger.id).await.unwrap().size_gigabytes,
        20
    );

    let snapshot = client
        .create_volume_snapshot(&ledger.id, "before-upgrade", &[])
        .await
        .unwrap();
    assert_eq!(
        client
            .list_volume_snapshots(&ledger.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        client.list_snapshots(Some("volume")).await.unwrap()[0].id,
        snapshot.id
    );
    client.delete_snapshot(&snapshot.id).await.unwrap();
    assert!(client.list_snapshots(None).await.unwrap().is_empty());
    client.delete_volume(&ledger.id).await.unwrap();
    assert!(
        client
            .find_volume("ledger", "nyc3")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn firewall_is_replaced_whole_and_droplets_added() {
    let sim = simulator().await;
    let client = client(&sim);
    let created = client.create_droplet(&droplet("bot")).await.unwrap();
    let anywhere = Targets {
        addresses: vec!["0.0.0.0/0".into(), "::/0".into()],
        ..Targets::default()
    };
    let spec = FirewallSpec {
        name: "schwad-bot".into(),
        inbound_rules: vec![InboundRule {
            protocol: "tcp".into(),
            ports: "22".into(),
            sources: anywhere.clone(),
        }],
        outbound_rules: vec![OutboundRule {
            protocol: "tcp".into(),
            ports: "0".into(),
            destinations: anywhere,
        }],
        droplet_ids: vec![created.droplet.id],
        tags: Vec::new(),
    };
    sim.set_faults(Faults {
        lost_responses: 1,
        ..Faults::default()
    });
    let firewall = client.create_firewall(&spec).await.unwrap();
    assert_eq!(
        client.list_firewalls().await.unwrap().len(),
        1,
        "no duplicate after a lost response"
    );
    let drifted = FirewallSpec {
        inbound_rules: Vec::new(),
        droplet_ids: Vec::new(),
        ..spec.clone()
    };
    let updated = client
        .update_firewall(&firewall.id, &drifted)
        .await
        .unwrap();
    assert!(updated.spec.inbound_rules.is_empty() && updated.spec.droplet_ids.is_empty());
    let healed = client.update_firewall(&firewall.id, &spec).await.unwrap();
    assert_eq!(healed.spec, spec);
    client
        .remove_droplets_from_firewall(&firewall.id, &[created.droplet.id])
        .await
        .unwrap();
    client
        .add_droplets_to_firewall(&firewall.id, &[created.droplet.id])
        .await
        .unwrap();
    client
        .add_droplets_to_firewall(&firewall.id, &[created.droplet.id])
        .await
        .unwrap();
    assert_eq!(
        client
            .get_firewall(&firewall.id)
            .await
            .unwrap()
            .spec
            .droplet_ids,
        vec![created.droplet.id]
    );
    client.delete_firewall(&firewall.id).await.unwrap();
}

#[tokio::test]
async fn registry_and_docker_credentials() {
    let sim = simulator().await;
    let client = client(&sim);
    assert!(client.get_registry().await.unwrap().is_none());
    let request = CreateRegistry {
        name: "schwad".into(),
        subscription_tier_slug: "basic".into(),
        region: "fra1".into(),
    };
    sim.set_faults(Faults {
        lost_responses: 1,
        lost_response_mode: LostResponse::Disconnect,
        ..Faults::default()
    });
    let registry = client.create_registry(&request).await.unwrap();
    assert_eq!(registry.name, "schwad");
    let credentials = client
        .docker_credentials(true, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    let auth = &credentials.auths["registry.digitalocean.com"].auth;
    assert!(!auth.is_empty());
    assert!(!format!("{credentials:?}").contains(auth.as_str()));
}

#[tokio::test]
async fn registry_tier_changes_and_tags_are_listed_across_pages() {
    let sim = simulator().await;
    let client = client(&sim);
    let request = CreateRegistry {
        name: "schwad".into(),
        subscription_tier_slug: "starter".into(),
        region: "fra1".into(),
    };
    client.create_registry(&request).await.unwrap();
    let subscription = client.set_registry_tier("basic").await.unwrap();
    assert_eq!(subscription.tier.unwrap().slug, "basic");
    assert_eq!(
        client.get_registry().await.unwrap().unwrap().tier_slug(),
        Some("basic")
    );
    assert_eq!(
        client
            .registry_subscription()
            .await
            .unwrap()
            .tier
            .unwrap()
            .slug,
        "basic"
    );

    assert_eq!(
        client
            .list_repository_tags("schwad", "team/bot")
            .await
            .unwrap(),
        None
    );
    for n in 0..205 {
        sim.push_tag(PushedTag {
            repository: "team/bot".into(),
            tag: format!("v{n}"),
            manifest_digest: format!("sha256:{n:064x}"),
            size_bytes: 1024,
        })
        .unwrap();
    }
    sim.reset_requests();
    let tags = client
        .list_repository_tags("schwad", "team/bot")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tags.len(), 205);
    assert_eq!(tags[204].tag, "v204");
    assert_eq!(tags[204].manifest_digest, format!("sha256:{:064x}", 204));
    assert_eq!(sim.requests().total(), 2, "one request per page");
    // Over the starter tier's one repository.
    sim.push_tag(PushedTag {
        repository: "other".into(),
        tag: "latest".into(),
        manifest_digest: format!("sha256:{:064x}", 1),
        size_bytes: 0,
    })
    .unwrap();
    let refused = client.set_registry_tier("starter").await.unwrap_err();
    assert!(
        refused.to_string().contains("OverRepositoryLimit"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_removed_tag_is_healed() {
    let sim = simulator().await;
    let client = client(&sim);
    let created = client.create_droplet(&droplet("bot")).await.unwrap();
    let me = [TaggedResource::droplet(created.droplet.id)];
    client.untag_resources("schwad", &me).await.unwrap();
    assert!(
        client
            .list_droplets_by_tag("schwad")
            .await
            .unwrap()
            .is_empty()
    );
    client.create_tag("schwad").await.unwrap();
    client.tag_resources("schwad", &me).await.unwrap();
    assert_eq!(
        client.list_droplets_by_tag("schwad").await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn budget_slows_down_before_the_quota_runs_out() {
    let rate_limit = RateLimitConfig {
        limit: 4,
        window: Duration::from_secs(2),
        ..RateLimitConfig::default()
    };
    let sim = Simulator::start(Config {
        rate_limit,
        ..Config::default()
    })
    .await
    .unwrap();
    let mut config = config(&sim);
    config.retry.max_attempts = 1; // any 429 would surface as an error
    config.budget = BudgetPolicy {
        reserve: 2,
        max_pause: Duration::from_secs(3),
    };
    let client = Client::new(config).unwrap();
    let started = Instant::now();
    for _ in 0..8 {
        client.account().await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "8 requests on a quota of 4 per 2 s must be paced"
    );
    assert!(client.rate_limit().unwrap().limit == 4);
}

#[tokio::test]
async fn burst_429_is_waited_out_for_retry_after() {
    let rate_limit = RateLimitConfig {
        burst_limit: 2,
        burst_window: Duration::from_secs(1),
        ..RateLimitConfig::default()
    };
    let sim = Simulator::start(Config {
        rate_limit,
        ..Config::default()
    })
    .await
    .unwrap();
    let client = client(&sim);
    for _ in 0..4 {
        client.account().await.unwrap();
    }
    assert!(
        sim.requests().get("GET /v2/account") >= 5,
        "a 429 was met and retried"
    );
}

#[tokio::test]
async fn logs_never_contain_the_token() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let sim = simulator().await;
    let client = client(&sim);
    sim.set_faults(Faults {
        server_errors: 2,
        lost_responses: 1,
        ..Faults::default()
    });
    client.create_droplet(&droplet("bot")).await.unwrap();
    client.list_droplets_by_tag("schwad").await.unwrap();
    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("retrying") || logs.contains("looking it up"),
        "{logs}"
    );
    assert!(!logs.contains(sim.token()), "{logs}");
}

#[tokio::test]
async fn ssh_key_added_once_and_found_by_fingerprint() {
    let sim = simulator().await;
    let client = client(&sim);
    let public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0Ji6V3uq2n3a0F2vtPLP2QuxRUTTuLwM7Pc5l9Pxs deploy@ci";
    let request = CreateSshKey {
        name: "deploy".into(),
        public_key: public_key.into(),
    };
    let added = client.add_ssh_key(&request).await.unwrap();
    let again = client
        .add_ssh_key(&CreateSshKey {
            name: "again".into(),
            ..request
        })
        .await
        .unwrap();
    assert_eq!(
        added.id, again.id,
        "an existing key is found, not duplicated"
    );
    let by_fingerprint = client
        .find_ssh_key(&added.fingerprint)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_fingerprint, added);
    assert_eq!(client.list_ssh_keys().await.unwrap().len(), 1);
    assert!(client.find_ssh_key("00:11").await.unwrap().is_none());
}

#[tokio::test]
async fn errored_action_is_an_error() {
    let sim = simulator().await;
    let client = client(&sim);
    let created = client.create_droplet(&droplet("bot")).await.unwrap();
    client
        .wait_for_droplet_active(created.droplet.id)
        .await
        .unwrap();
    sim.set_faults(Faults {
        errored_actions: 1,
        ..Faults::default()
    });
    let reboot = client
        .droplet_action(created.droplet.id, &DropletAction::Reboot)
        .await
        .unwrap();
    let error = client.wait_for_action(reboot.id).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains(&format!("action {} (reboot) errored", reboot.id)),
        "{error}"
    );
}
